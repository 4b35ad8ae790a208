// Checkpoints in the browser's IndexedDB: one record per key in the object store "checkpoints"
// of the database `name`; a put is one transaction, so a reload sees the old or the new bytes.

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export class IndexedDBCheckpoints {
  constructor(key, name = "mlspec-train") {
    this.key = key;
    this.name = name;
  }

  async database() {
    const open = indexedDB.open(this.name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("checkpoints");
    return request(open);
  }

  async save(bytes) {
    const db = await this.database();
    const tx = db.transaction("checkpoints", "readwrite");
    tx.objectStore("checkpoints").put(bytes, this.key);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }

  async load() {
    const db = await this.database();
    const value = await request(db.transaction("checkpoints").objectStore("checkpoints").get(this.key));
    db.close();
    return value ?? null;
  }

  async clear() {
    const db = await this.database();
    await request(db.transaction("checkpoints", "readwrite").objectStore("checkpoints").delete(this.key));
    db.close();
  }
}
