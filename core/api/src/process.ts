/** Process helpers shared by the locks that guard run directories and downloaded files. */

/**
 * Whether process `pid` exists on this host (signal 0 checks without signalling; EPERM means it
 * exists, owned by someone else). A lock whose holder is not alive may be taken over.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
