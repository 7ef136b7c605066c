import { readdirSync, readFileSync } from 'node:fs';

/**
 * This process's threads and each one's nice value (field 19 of /proc/<tid>/stat, counted after the
 * ")" that ends the thread's name). A thread that ends between listing and reading is left out.
 */
export function threadNices(): Array<{ tid: number; nice: number }> {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      return [];
    }
    return [{ tid: Number(tid), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) }];
  });
}
