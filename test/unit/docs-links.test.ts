import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every relative link in the README and docs/ resolves: the file exists, and an #anchor names a
// heading of that file (GitHub's slugs). So do the docs/ pages that code and config point at.

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function markdownFiles(): string[] {
  const files = ['README.md', 'bench/results/README.md', 'charts/meshguard/README.md'].filter((f) => existsSync(join(REPO, f)));
  const walk = (dir: string): string[] =>
    readdirSync(join(REPO, dir)).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(join(REPO, path)).isDirectory()) return walk(path);
      return name.endsWith('.md') ? [path] : [];
    });
  return existsSync(join(REPO, 'docs')) ? [...files, ...walk('docs')] : files;
}

/** The text of a markdown file outside fenced code blocks. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, text] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = text
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

function links(markdown: string): string[] {
  const text = prose(markdown).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l));
}

describe('documentation links', () => {
  it('computes GitHub anchors', () => {
    expect([...anchors('# meshguard\n## `meshguard serve`\n### Latency (bench/results/e2e-latency.json)\n## Install\n## Install\n```\n# not a heading\n```\n')]).toEqual([
      'meshguard',
      'meshguard-serve',
      'latency-benchresultse2e-latencyjson',
      'install',
      'install-1',
    ]);
  });

  it.each(markdownFiles())('%s: every relative link and anchor resolves', (file) => {
    const text = readFileSync(join(REPO, file), 'utf8');
    const broken: string[] = [];
    for (const link of links(text)) {
      const [path, anchor] = link.split('#', 2);
      const target = path ? join(REPO, dirname(file), decodeURIComponent(path)) : join(REPO, file);
      if (!existsSync(target)) {
        broken.push(`${link}: no file ${relative(REPO, target)}`);
        continue;
      }
      if (anchor === undefined || statSync(target).isDirectory() || !target.endsWith('.md')) continue;
      if (!anchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${relative(REPO, target)}`);
    }
    expect(broken).toEqual([]);
  });

  it('docs/ pages named in code, tests and config exist', () => {
    const named: string[] = [];
    const scan = (path: string) => {
      for (const name of readdirSync(join(REPO, path))) {
        const rel = join(path, name);
        if (statSync(join(REPO, rel)).isDirectory()) scan(rel);
        else for (const [page] of readFileSync(join(REPO, rel), 'utf8').matchAll(/(?<![\w/.])docs\/[\w/-]+\.md/g)) named.push(`${rel}: ${page}`);
      }
    };
    for (const dir of ['src', 'test', 'bench', 'charts', 'policies', 'examples']) scan(dir);
    for (const file of ['.pre-commit-hooks.yaml', 'Dockerfile', 'package.json']) {
      for (const [page] of readFileSync(join(REPO, file), 'utf8').matchAll(/(?<![\w/.])docs\/[\w/-]+\.md/g)) named.push(`${file}: ${page}`);
    }
    expect(named.filter((n) => !existsSync(join(REPO, n.split(': ')[1])))).toEqual([]);
  });
});
