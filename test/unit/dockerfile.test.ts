import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The Dockerfile cannot be built here (no Docker engine), so its essentials are checked statically.

const root = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const DOCKERFILE = readFileSync(root('Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(root('.dockerignore'), 'utf8');
const DEV_DEPENDENCIES = Object.keys(
  (JSON.parse(readFileSync(root('package.json'), 'utf8')) as { devDependencies?: Record<string, string> }).devDependencies ?? {},
);

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions: joins `\` continuations, drops comments. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  let pending = '';
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    // Docker drops comment lines, even in the middle of a continued instruction.
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\') && i < lines.length - 1) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(full) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ image: m?.[1] ?? '', name: m?.[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM`);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The shell commands of a stage's RUN instructions, in order (split on && and ;). */
function commands(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => i.keyword === 'RUN')
    .flatMap((i) => i.args.split(/&&|;/))
    .map((c) => c.trim().replace(/\s+/g, ' '))
    .filter(Boolean);
}

const isNpmInstall = (cmd: string) => /^npm (ci|install|i|add)\b/.test(cmd);
const omitsDev = (cmd: string) => /--omit[= ]dev\b/.test(cmd);

/** True if the stage's last npm step leaves only production dependencies in node_modules. */
function leavesOnlyProductionDeps(stage: Stage): boolean {
  const npm = commands(stage).filter((c) => isNpmInstall(c) || /^npm prune\b/.test(c));
  const last = npm.at(-1);
  return last !== undefined && omitsDev(last);
}

/** COPY/ADD flags and paths: `--from=build /app/node_modules ./node_modules`. */
function copyParts(args: string) {
  const flags = new Map<string, string>();
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const paths = words.filter((w) => {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(w);
    if (m) flags.set(m[1], m[2] ?? '');
    return !m;
  });
  return { from: flags.get('from'), sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
}

function execForm(stage: Stage, keyword: string): string[] {
  const args = stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
  if (args === undefined) return [];
  if (!args.startsWith('[')) throw new Error(`${keyword} must use the exec form (a JSON array), got: ${args}`);
  return JSON.parse(args) as string[];
}

/** What is wrong with a Dockerfile, as short messages; empty when it has the essentials. */
function dockerfileProblems(text: string, devDependencies: string[]): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) return [`not multi-stage: ${stages.length} stage(s)`];
  const final = stages.at(-1)!;
  const stageByName = (ref: string) => stages.find((s) => s.name === ref) ?? stages[Number(ref)];

  for (const s of stages) {
    if (!s.image.startsWith('node:20-bookworm-slim')) problems.push(`stage ${s.name ?? s.image} is not based on node:20-bookworm-slim`);
  }
  const build = stages.slice(0, -1);
  const apt = build.flatMap(commands).find((c) => /^apt-get install\b/.test(c)) ?? '';
  for (const pkg of ['python3', 'make', 'g++']) {
    if (!apt.split(' ').includes(pkg)) problems.push(`no build stage apt-get installs ${pkg} (needed by node-gyp for re2)`);
  }
  if (!build.flatMap(commands).some((c) => c === 'npm run build')) problems.push('no build stage runs npm run build');

  const user = final.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
  const ids = user && /^(\d+)(?::(\d+))?$/.exec(user);
  if (!ids) problems.push(`final stage USER is not numeric: ${user ?? '(none)'}`);
  else if (Number(ids[1]) === 0) problems.push('final stage runs as root (USER 0)');

  for (const cmd of commands(final).filter(isNpmInstall)) {
    if (!omitsDev(cmd)) problems.push(`final stage installs dev dependencies: ${cmd}`);
  }
  const workdir = final.instructions.filter((i) => i.keyword === 'WORKDIR').at(-1)?.args ?? '/';
  const bringsNodeModules = (src: string) =>
    /(^|\/)node_modules\/?$/.test(src) || ['.', './', '/', workdir, `${workdir}/`].includes(src);
  for (const i of final.instructions.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) {
    const { from, sources } = copyParts(i.args);
    if (!sources.some(bringsNodeModules)) continue;
    if (from === undefined) {
      if (sources.some((s) => /node_modules/.test(s))) problems.push(`final stage copies node_modules from the build context: ${i.args}`);
      continue;
    }
    const source = stageByName(from);
    if (!source) problems.push(`final stage copies from unknown stage ${from}`);
    else if (!leavesOnlyProductionDeps(source)) problems.push(`final stage copies node_modules from stage ${from}, which keeps dev dependencies`);
  }
  const finalText = final.instructions.map((i) => `${i.keyword} ${i.args}`).join('\n');
  for (const dep of devDependencies) {
    const name = dep.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    if (new RegExp(`(^|[^\\w@/.-])${name}($|[^\\w/.-])`, 'm').test(finalText)) problems.push(`final stage mentions dev dependency ${dep}`);
  }

  const env = final.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
  if (!env.some((e) => /(^|\s)NODE_ENV[= ]production(\s|$)/.test(e))) problems.push('final stage does not set NODE_ENV=production');
  const argv = [...execForm(final, 'ENTRYPOINT'), ...execForm(final, 'CMD')];
  const cli = argv.indexOf('dist/cli.js');
  if (argv[0] !== 'node' || cli < 0 || argv[cli + 1] !== 'serve') problems.push(`entrypoint does not run node dist/cli.js serve: ${JSON.stringify(argv)}`);
  const exposed = final.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  for (const port of ['8443', '9090']) if (!exposed.includes(port)) problems.push(`port ${port} is not exposed`);
  for (const needed of ['dist', 'policies', 'package.json']) {
    const copied = final.instructions
      .filter((i) => i.keyword === 'COPY')
      .some((i) => copyParts(i.args).sources.some((s) => s.replace(/\/$/, '').split('/').at(-1) === needed));
    if (!copied) problems.push(`final stage does not copy ${needed}`);
  }
  return problems;
}

/** The .dockerignore patterns that exclude a path (a later `!pattern` re-includes it). */
function dockerignoreExcludes(text: string, path: string): boolean {
  let excluded = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = line.replace(/^!/, '').replace(/^\/+|\/+$/g, '');
    if (pattern === path || pattern === `${path}/**` || pattern === `**/${path}`) excluded = !negate;
  }
  return excluded;
}

describe('Dockerfile', () => {
  it('has the essentials: multi-stage, non-root numeric user, production deps only, runs serve', () => {
    expect(dockerfileProblems(DOCKERFILE, DEV_DEPENDENCIES)).toEqual([]);
  });

  it('parses stages, continuations and comments', () => {
    const stages = parseDockerfile(DOCKERFILE);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0].name).toBe('build');
    expect(commands(stages[0])).toContain('npm ci');
    expect(commands(stages[0]).indexOf('npm prune --omit=dev')).toBeGreaterThan(commands(stages[0]).indexOf('npm run build'));
  });

  // Each row breaks one essential of a small valid Dockerfile; the check must name it.
  const good = [
    'FROM node:20-bookworm-slim AS build',
    'RUN apt-get update && apt-get install -y python3 make g++',
    'RUN npm ci',
    'RUN npm run build \\',
    ' && npm prune --omit=dev',
    'FROM node:20-bookworm-slim',
    'ENV NODE_ENV=production',
    'WORKDIR /app',
    'COPY --from=build /app/package.json ./',
    'COPY --from=build /app/node_modules ./node_modules',
    'COPY --from=build /app/dist ./dist',
    'COPY policies ./policies',
    'USER 10001:10001',
    'EXPOSE 8443 9090',
    'ENTRYPOINT ["node", "dist/cli.js"]',
    'CMD ["serve"]',
  ].join('\n');
  const edit = (from: string, to: string) => {
    if (!good.includes(from)) throw new Error(`fixture has no ${from}`);
    return good.replace(from, to);
  };

  it('accepts the minimal valid Dockerfile', () => {
    expect(dockerfileProblems(good, DEV_DEPENDENCIES)).toEqual([]);
  });

  it.each([
    ['a single stage', `FROM node:20-bookworm-slim\n${good.split('FROM node:20-bookworm-slim\n')[1]}`, 'not multi-stage'],
    ['a named user', edit('USER 10001:10001', 'USER node'), 'USER is not numeric'],
    ['no user', edit('USER 10001:10001\n', ''), 'USER is not numeric'],
    ['root', edit('USER 10001:10001', 'USER 0'), 'runs as root'],
    ['an unpruned build stage', edit(' && npm prune --omit=dev', ''), 'keeps dev dependencies'],
    ['pruning before a later install', edit(' && npm prune --omit=dev', ' && npm prune --omit=dev && npm install'), 'keeps dev dependencies'],
    ['copying the whole build directory unpruned', edit(' && npm prune --omit=dev', '').replace('/app/node_modules ./node_modules', '/app ./'), 'keeps dev dependencies'],
    ['npm install in the final stage', edit('USER 10001:10001', 'RUN npm install\nUSER 10001:10001'), 'installs dev dependencies'],
    ['npm ci in the final stage', edit('USER 10001:10001', 'RUN npm ci\nUSER 10001:10001'), 'installs dev dependencies'],
    ['node_modules from the context', edit('--from=build /app/node_modules', 'node_modules'), 'from the build context'],
    ['a dev dependency in the final stage', edit('USER 10001:10001', 'RUN npx vitest --version\nUSER 10001:10001'), 'dev dependency vitest'],
    ['a shell-form entrypoint', edit('ENTRYPOINT ["node", "dist/cli.js"]', 'ENTRYPOINT node dist/cli.js'), 'exec form'],
    ['no serve', edit('CMD ["serve"]', 'CMD ["check"]'), 'does not run node dist/cli.js serve'],
    ['no NODE_ENV', edit('ENV NODE_ENV=production\n', ''), 'NODE_ENV=production'],
    ['no g++', edit('make g++', 'make'), 'installs g++'],
    ['another base', edit('FROM node:20-bookworm-slim\n', 'FROM node:20-alpine\n'), 'not based on node:20-bookworm-slim'],
    ['no metrics port', edit('EXPOSE 8443 9090', 'EXPOSE 8443'), 'port 9090'],
    ['no policies', edit('COPY policies ./policies\n', ''), 'does not copy policies'],
  ])('rejects %s', (_name, text, problem) => {
    let problems: string[];
    try {
      problems = dockerfileProblems(text, DEV_DEPENDENCIES);
    } catch (err) {
      problems = [(err as Error).message];
    }
    expect(problems.join('\n')).toContain(problem);
  });
});

describe('.dockerignore', () => {
  it.each(['node_modules', 'dist', 'certs', '.git'])('excludes %s', (path) => {
    expect(dockerignoreExcludes(DOCKERIGNORE, path)).toBe(true);
  });

  it('understands re-inclusion', () => {
    expect(dockerignoreExcludes('dist/\n!dist\n', 'dist')).toBe(false);
    expect(dockerignoreExcludes('# dist\n', 'dist')).toBe(false);
  });
});
