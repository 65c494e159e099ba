/** `cammsr export` and `cammsr serve`: thin shells over src/serve. */
import { Command, Option } from 'commander';
import { kernels } from '../kernels/select.js';
import { resolve } from 'node:path';
import { exportBundle, readManifest } from '../serve/bundle.js';
import { authPolicy } from '../serve/auth/policy.js';
import { ITEM_TABLE_MODES, type ItemTableMode } from '../serve/recommender.js';
import { buildService, SERVICE_LIMITS, type Service } from '../serve/service.js';
import type { EventStore } from '../serve/store/event-store.js';
import { openStore } from '../serve/store/open.js';
import { formatTable } from '../report/table.js';
import { integer } from './options.js';

function exportCommand(o: { run: string; out: string; force?: boolean; json?: boolean }): void {
  const m = exportBundle(o.run, o.out, { force: o.force });
  console.log(
    formatTable(
      ['bundle', 'model', 'dataset', 'items', 'test NDCG@10', 'cammsr'],
      [[o.out, m.model, m.dataset.name, m.dataset.items, m.metrics?.test['NDCG@10'] ?? '-', m.cammsrVersion]],
    ),
  );
  if (o.json) console.log(JSON.stringify({ bundle: o.out, manifest: m }));
}

interface ServeFlags {
  bundle: string;
  db: string;
  port: number;
  host: string;
  maxBatch: number;
  maxWaitMs: number;
  threads?: number;
  quiet?: boolean;
  keys?: string;
  insecureNoAuth?: boolean;
  bundleRoot: string[];
  shedDelayMs: number;
  requestDeadlineMs: number;
  itemTable: ItemTableMode;
}

/** SIGHUP reloads the bundle; SIGTERM and SIGINT finish in-flight requests, close the store and exit. */
function handleSignals({ app, reload }: Service, store: EventStore): void {
  process.on('SIGHUP', () => {
    reload().then(
      (g) => app.log.info({ version: g.version }, 'bundle reloaded (SIGHUP)'),
      (e: Error) => app.log.error(`reload failed, still serving the previous bundle: ${e.message}`),
    );
  });
  const stop = async (signal: string) => {
    app.log.info(`${signal}: finishing in-flight requests`);
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

async function serveCommand(o: ServeFlags): Promise<void> {
  const threads = o.threads ?? (process.env.CAMMSR_THREADS ? undefined : 1);
  if (threads !== undefined) kernels().setThreads(threads);
  // A folder that is not a bundle, or an address that needs keys it lacks, is refused before
  // the store is opened (or created). Secrets come from the environment, not the command line
  // where `ps` shows them.
  readManifest(resolve(o.bundle));
  const auth = authPolicy({
    keysFile: o.keys,
    keysJson: process.env.CAMMSR_API_KEYS || undefined,
    adminToken: process.env.CAMMSR_ADMIN_TOKEN || undefined,
    host: o.host,
    insecureNoAuth: o.insecureNoAuth,
  });
  const store = await openStore(o.db);
  const service = await buildService({
    bundle: o.bundle,
    store,
    maxBatch: o.maxBatch,
    maxWaitMs: o.maxWaitMs,
    auth,
    bundleRoots: o.bundleRoot,
    limits: { shedDelayMs: o.shedDelayMs, requestDeadlineMs: o.requestDeadlineMs },
    itemTable: o.itemTable,
    // --quiet drops the request log only: warnings and errors (a failed reload, a 500) stay.
    logger: { level: o.quiet ? 'warn' : 'info' },
  }).catch(async (e) => {
    await store.close();
    throw e;
  });
  handleSignals(service, store);
  const url = await service.app.listen({ port: o.port, host: o.host });
  process.stderr.write(
    `cammsr serve: ${o.bundle} (${store.kind} event store) at ${url}; explorer at ${url}/, API at ${url}/openapi.json; access: ${auth.summary}\n`,
  );
}

export function registerServeCommands(program: Command): void {
  program
    .command('export')
    .description("write a self-contained model bundle from a run's best checkpoint (for cammsr serve)")
    .requiredOption('--run <run>', 'run directory')
    .requiredOption('--out <bundle>', 'bundle folder to create')
    .option('--force', 'replace an existing bundle')
    .option('--json', 'print one JSON object as the last line')
    .action(exportCommand);

  program
    .command('serve')
    .description('serve recommendations from a bundle over HTTP, with a durable event store')
    .requiredOption('--bundle <bundle>', 'bundle folder (cammsr export)')
    .option('--db <url>', 'event store: sqlite:<file> or postgres://user@host/db', 'sqlite:cammsr-events.db')
    .option('--port <n>', 'TCP port', integer('--port', 0, 65535), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--max-batch <n>',
      'most requests answered by one model call',
      integer('--max-batch', 1, 4096),
      64,
    )
    .option(
      '--max-wait-ms <n>',
      'longest wait for a micro-batch to fill',
      integer('--max-wait-ms', 0, 1000),
      0,
    )
    .option(
      '--threads <n>',
      'kernel threads per model call (default 1: requests are small and run side by side; CAMMSR_THREADS also sets it)',
      integer('--threads', 1, 256),
    )
    .option(
      '--keys <file>',
      'API keys and their scopes (JSON; docs/serving.md, "Keys and scopes"); CAMMSR_API_KEYS also gives them',
    )
    .option(
      '--insecure-no-auth',
      'listen on a non-loopback --host without API keys: anyone who reaches it may write events, read histories and change the catalog',
    )
    .option(
      '--bundle-root <dir>',
      'a folder POST /v1/admin/reload may load bundles from (repeatable; default: the folder holding --bundle)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option(
      '--shed-delay-ms <n>',
      'answer 503 at once while the event loop is this far behind, instead of queueing (0: never)',
      integer('--shed-delay-ms', 0, 60_000),
      200,
    )
    .option(
      '--request-deadline-ms <n>',
      'a recommendation request still waiting for the model this long after it arrived is answered 503 instead (0: never); work for a client that has gone is always dropped',
      integer('--request-deadline-ms', 0, 600_000),
      SERVICE_LIMITS.requestDeadlineMs,
    )
    .addOption(
      new Option(
        '--item-table <mode>',
        'score the item table as float32, or through its 8-bit copy with the possible top items rescored from float32 (the same lists, faster over large catalogs, a quarter more memory); auto: 8-bit from 100,000 items',
      )
        .choices(ITEM_TABLE_MODES)
        .default('auto'),
    )
    .option('--quiet', 'no request log (warnings and errors are still logged)')
    .action(serveCommand);
}
