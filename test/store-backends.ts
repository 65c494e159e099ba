/**
 * The event stores the serving tests run against: SQLite always, PostgreSQL when
 * CAMMSR_TEST_POSTGRES names a server where the user may create databases (CI starts one,
 * .ci/postgres.sh). Every `freshUrl()` is a new, empty database: a file under a temporary folder,
 * or a PostgreSQL database created for it and dropped when the test file ends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { tempDir } from './temp.js';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  /** The --db URL of a new, empty database. */
  freshUrl(): Promise<string>;
}

/** The backends of this run; `prefix` (lower-case letters) names the files and databases. */
export function storeBackends(prefix: string): StoreBackend[] {
  const root = tempDir(prefix);
  let files = 0;
  const backends: StoreBackend[] = [
    { name: 'sqlite', freshUrl: async () => `sqlite:${join(root, `events-${files++}.db`)}` },
  ];
  const server = process.env.CAMMSR_TEST_POSTGRES;
  if (server) backends.push(postgresBackend(server, prefix));
  else if (process.env.CI)
    test(`CI runs the ${prefix} tests against PostgreSQL`, () => {
      assert.fail(
        'CAMMSR_TEST_POSTGRES is not set: .ci/run should start a PostgreSQL server (.ci/postgres.sh)',
      );
    });
  return backends;
}

function postgresBackend(server: string, prefix: string): StoreBackend {
  const admin = new pg.Pool({ connectionString: server, max: 1 });
  const created: string[] = [];
  test.after(async () => {
    // FORCE: a server process a test killed may still hold connections.
    for (const db of created) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  });
  return {
    name: 'postgres',
    async freshUrl() {
      const db = `cammsr_test_${prefix}_${process.pid}_${created.length}`;
      await admin.query(`CREATE DATABASE ${db}`);
      created.push(db);
      const url = new URL(server);
      url.pathname = `/${db}`;
      return url.toString();
    },
  };
}
