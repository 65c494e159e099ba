/** The DuckDB side of an import: one private in-memory database, and reading its values. */
import {
  DuckDBInstance,
  type DuckDBConnection,
  type DuckDBMaterializedResult,
  type DuckDBValue,
} from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressFn } from '../../types.js';

export const num = (v: DuckDBValue): number => Number(v);
export const str = (v: DuckDBValue): string | null => (v === null ? null : String(v));

/** One DuckDB in-memory database per import, spilling to a private temp folder. */
export class Session {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly tmp: string,
    private readonly progress?: ProgressFn,
  ) {}

  static async open(progress?: ProgressFn): Promise<Session> {
    const tmp = mkdtempSync(join(tmpdir(), 'cammsr-duckdb-'));
    let instance: DuckDBInstance | undefined;
    try {
      instance = await DuckDBInstance.create(':memory:', { temp_directory: tmp });
      const s = new Session(instance, await instance.connect(), tmp, progress);
      // Strings without an offset are UTC whatever the machine's zone; rowid is the file order.
      await s.run(`SET TimeZone = 'UTC'`);
      await s.run(`SET preserve_insertion_order = true`);
      await s.run(`SET enable_progress_bar = ${progress ? 'true' : 'false'}`);
      await s.run(`SET enable_progress_bar_print = false`);
      return s;
    } catch (e) {
      instance?.closeSync();
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Runs a statement; with a stage, reports DuckDB's own progress estimate (percent) meanwhile. */
  async run(sql: string, stage?: string): Promise<number> {
    return (await this.query(sql, stage)).rowsChanged;
  }

  /** Runs a query to a materialized result (fetched later chunk by chunk). */
  async query(sql: string, stage?: string): Promise<DuckDBMaterializedResult> {
    const progress = this.progress;
    if (!stage || !progress) return this.conn.run(sql);
    progress(stage, 0, 100);
    const timer = setInterval(() => {
      const p = this.conn.progress.percentage;
      if (p >= 0) progress(stage, Math.min(100, p), 100);
    }, 250);
    try {
      return await this.conn.run(sql);
    } finally {
      clearInterval(timer);
      progress(stage, 100, 100);
    }
  }

  async rows(sql: string): Promise<DuckDBValue[][]> {
    return (await this.conn.runAndReadAll(sql)).getRows();
  }

  async count(sql: string): Promise<number> {
    return num((await this.rows(sql))[0][0]);
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
