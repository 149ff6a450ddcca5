// Words for restoring an inventory backup (Settings), as pure functions.

/** Splits a path into its folder and file name (either separator). */
function split(path: string): { dir: string; name: string } {
  const at = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return at < 0 ? { dir: '', name: path } : { dir: path.slice(0, at), name: path.slice(at + 1) };
}

/** Where the backend keeps the current inventory aside on restore, as the confirmation names it:
 * `inventory.db` → `inventory-before-restore-<date and time>.db`, in the same folder. */
export function asideName(inventoryPath: string): { name: string; dir: string } {
  const { dir, name } = split(inventoryPath);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name || 'inventory', ''];
  return { name: `${stem}-before-restore-<date and time>${ext}`, dir };
}

/** A file size for people. */
export function sizeWords(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
