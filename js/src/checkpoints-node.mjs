// Checkpoints as files for Node.js: each save writes a temporary file beside the target and
// renames it over the target, so a kill at any instant leaves the old or the new file whole.
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export class FileCheckpoints {
  constructor(path) {
    this.path = path;
  }

  async save(bytes) {
    const temporary = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    await writeFile(temporary, bytes);
    await rename(temporary, this.path);
  }

  async load() {
    try {
      return new Uint8Array(await readFile(this.path));
    } catch (error) {
      if (error.code === "ENOENT") return null;
      throw error;
    }
  }
}
