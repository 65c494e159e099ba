/** The run configuration: schema defaults, files, --set overrides, precedence, errors, docs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  applyOverrides,
  configOfModel,
  ConfigError,
  describeConfig,
  effectiveModalities,
  effectiveTime,
  effectiveUnseenItems,
  effectiveWeightScale,
  formatConfig,
  loadConfigFile,
  parseConfig,
  parseStoredConfig,
  resolveConfig,
  saveConfig,
  type RunConfig,
} from '../src/config/index.js';
import { tempDir } from './temp.js';

const tmp = () => tempDir('config');
const write = (dir: string, name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/** Asserts that fn throws a ConfigError whose message matches every pattern. */
function throwsConfig(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('defaults: every option of the spec at its documented value', () => {
  const c = resolveConfig();
  assert.deepEqual(c, {
    model: 'cammsr',
    seed: 1,
    maxLen: 50,
    dim: 64,
    layers: 2,
    heads: 2,
    ffnDim: 256,
    hiddenDropout: 0.5,
    attnDropout: 0.5,
    idMask: 0,
    unseenItems: 'auto',
    initStd: 0.02,
    layerNormEps: 1e-12,
    split: { coldItems: 0, coldSeed: 1 },
    train: {
      epochs: 200,
      batchSize: 256,
      lr: 1e-3,
      weightDecay: 0,
      warmupEpochs: 0,
      gradClip: 0,
      patience: 10,
      evalEvery: 1,
      validationMetric: 'NDCG@10',
      maskHistory: false,
      samples: 'sequences',
      sequences: 'auto',
      softmax: 'auto',
      negatives: 1024,
      negativeAlpha: 0.5,
    },
    cammsr: {
      modalities: 'auto',
      experts: 4,
      gateTemperature: 1,
      categoryGuidance: true,
      viewLoss: 1,
      viewNorm: true,
      detachWeights: true,
      categoryWeightScale: 1,
      weightTemperature: 1,
      synergy: true,
      camoe: true,
      beta: 1,
      lambda: 0.1,
      msclTau: 0.2,
      msclRatio: 0.3,
      msclPairs: 'default',
      sharedEncoder: false,
      inputNorm: 'dyt',
      encoderNorm: 'layernorm',
      dytAlpha: 0.5,
      time: 'auto',
      categoryNoise: 0,
    },
    contentKnn: { modalities: 'auto' },
    hm4sr: { initScalars: [0, 1, 1] },
    moca: {
      featureTransformer: 'conditional',
      itemTransformer: 'conditional',
      featureLayers: 2,
      itemLayers: 2,
      experts: 4,
      featureRouted: 16,
      itemRouted: 8,
      ffDropout: 0.2,
      labelGamma: 0.5,
      alignWeight: 1,
      alignTau: 0.5,
    },
    mmsr: {
      clusters: 20,
      linkK: 1,
      strictEdges: true,
      separateKV: false,
      attentionDropout: 0.2,
      outputDropout: 0.4,
    },
  });
  // A default list is not shared between configurations.
  c.hm4sr.initScalars[0] = 9;
  assert.deepEqual(resolveConfig().hm4sr.initScalars, [0, 1, 1]);
});

test('files: YAML (.yaml, .yml) and JSON give the same configuration; partial sections keep their defaults', () => {
  const dir = tmp();
  const yaml = `# comment
model: hm4sr
train:
  lr: 1e-3        # YAML 1.2: a number, not a string
  epochs: 5
cammsr:
  modalities: [id, text]
  inputNorm: layernorm
hm4sr:
  initScalars: [0.5, 1, 1]
`;
  const json = JSON.stringify({
    model: 'hm4sr',
    train: { lr: 0.001, epochs: 5 },
    cammsr: { modalities: ['id', 'text'], inputNorm: 'layernorm' },
    hm4sr: { initScalars: [0.5, 1, 1] },
  });
  const a = resolveConfig({ file: write(dir, 'a.yaml', yaml) });
  const b = resolveConfig({ file: write(dir, 'b.yml', yaml) });
  const c = resolveConfig({ file: write(dir, 'c.json', json) });
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.equal(a.model, 'hm4sr');
  assert.equal(a.train.lr, 0.001);
  assert.equal(a.train.epochs, 5);
  assert.equal(a.train.batchSize, 256, 'unset keys of a section keep their defaults');
  assert.deepEqual(a.cammsr.modalities, ['id', 'text']);
  assert.equal(a.cammsr.experts, 4);
  // loadConfigFile returns the file's own values, not defaulted ones.
  assert.deepEqual(loadConfigFile(join(dir, 'c.json')), JSON.parse(json));
  // An empty YAML file sets nothing.
  assert.deepEqual(resolveConfig({ file: write(dir, 'empty.yaml', '# nothing\n') }), resolveConfig());
});

test('files: unreadable, malformed or non-mapping files are errors naming the file', () => {
  const dir = tmp();
  throwsConfig(() => loadConfigFile(join(dir, 'missing.yaml')), /missing\.yaml: cannot read the file/);
  throwsConfig(
    () => loadConfigFile(write(dir, 'x.toml', 'a = 1')),
    /x\.toml: unknown config file type "\.toml"/,
  );
  throwsConfig(
    () => loadConfigFile(write(dir, 'bad.yaml', 'train: [1\n')),
    /bad\.yaml: invalid YAML: .*line/,
  );
  throwsConfig(() => loadConfigFile(write(dir, 'dup.yaml', 'seed: 1\nseed: 2\n')), /dup\.yaml: invalid YAML/);
  throwsConfig(() => loadConfigFile(write(dir, 'bad.json', '{"seed": }')), /bad\.json: invalid JSON/);
  throwsConfig(
    () => loadConfigFile(write(dir, 'list.yaml', '- 1\n- 2\n')),
    /list\.yaml: expected a mapping of options at the top level, got \[1,2\]/,
  );
});

test('overrides: nested dotted keys, applied in order, without touching the input', () => {
  const base = { train: { epochs: 3 }, cammsr: { experts: 2 } };
  const out = applyOverrides(base, [
    'train.lr=0.002',
    'cammsr.modalities=id,text',
    'cammsr.camoe=false',
    'hm4sr.initScalars=0,1,2',
    'seed=4',
    'seed=5',
  ]);
  assert.deepEqual(out, {
    train: { epochs: 3, lr: 0.002 },
    cammsr: { experts: 2, modalities: ['id', 'text'], camoe: false },
    hm4sr: { initScalars: [0, 1, 2] },
    seed: 5,
  });
  assert.deepEqual(base, { train: { epochs: 3 }, cammsr: { experts: 2 } }, 'input unchanged');
});

test('overrides: values are JSON when it fits, else comma lists for list options, else strings', () => {
  const o = applyOverrides({}, [
    'maxLen=20', // number
    'train.maskHistory=true', // boolean
    'train.validationMetric=HR@10', // not JSON: a string
    'train.threads=4',
    'cammsr.modalities=["id","image"]', // JSON list
    'cammsr.categoryWeightScale=modalities', // string branch of number | 'modalities'
    'cammsr.inputNorm="layernorm"', // a quoted JSON string
    'cammsr.time=off',
    'hm4sr.initScalars=[0.25, 1, 1]',
  ]);
  assert.deepEqual(o, {
    maxLen: 20,
    train: { maskHistory: true, validationMetric: 'HR@10', threads: 4 },
    cammsr: {
      modalities: ['id', 'image'],
      categoryWeightScale: 'modalities',
      inputNorm: 'layernorm',
      time: 'off',
    },
    hm4sr: { initScalars: [0.25, 1, 1] },
  });
  // 'auto' stays a string on the 'auto' | list option; one name is a one-element list.
  assert.deepEqual(applyOverrides({}, ['cammsr.modalities=auto']), { cammsr: { modalities: 'auto' } });
  assert.deepEqual(applyOverrides({}, ['cammsr.modalities=id']), { cammsr: { modalities: ['id'] } });
  // Spaces around list items and the numeric branch of a union.
  assert.deepEqual(applyOverrides({}, ['cammsr.modalities=id, text', 'cammsr.categoryWeightScale=2']), {
    cammsr: { modalities: ['id', 'text'], categoryWeightScale: 2 },
  });
});

test('overrides: malformed items, unknown keys and bad values are clear errors', () => {
  throwsConfig(() => applyOverrides({}, ['train.lr']), /--set: expected key=value/);
  throwsConfig(
    () => applyOverrides({}, ['train.lrr=1']),
    /--set: train: unknown key "lrr" \(did you mean "train\.lr"\?\); valid keys in train: epochs, batchSize, lr,/,
  );
  throwsConfig(
    () => applyOverrides({}, ['lr=0.1']),
    /unknown key "lr" \(did you mean "train\.lr"\?\); valid keys at the top level: model, seed,/,
  );
  throwsConfig(() => applyOverrides({}, ['nope.lr=1']), /unknown key "nope"/);
  throwsConfig(() => applyOverrides({}, ['seed.x=1']), /seed is an option, not a section/);
  throwsConfig(
    () => applyOverrides({}, ['train=1']),
    /train is a section; set one of its keys: train\.epochs/,
  );
  throwsConfig(
    () => applyOverrides({}, ['train.lr=fast']),
    /--set: train\.lr: expected a positive number, got "fast"/,
  );
  throwsConfig(() => applyOverrides({}, ['train.lr=-1']), /train\.lr: expected a positive number, got -1/);
  throwsConfig(
    () => applyOverrides({}, ['train.epochs=1.5']),
    /train\.epochs: expected a positive integer, got 1\.5/,
  );
  throwsConfig(
    () => applyOverrides({}, ['cammsr.camoe=no']),
    /cammsr\.camoe: expected true or false, got "no"/,
  );
  throwsConfig(
    () => applyOverrides({}, ['cammsr.inputNorm=batchnorm']),
    /cammsr\.inputNorm: expected one of 'dyt', 'layernorm', got "batchnorm"/,
  );
  throwsConfig(
    () => applyOverrides({}, ['cammsr.modalities=id,audio']),
    /cammsr\.modalities: expected 'auto' or a list of 'id', 'text', 'image', got \["id","audio"\]/,
  );
  throwsConfig(
    () => applyOverrides({}, ['hm4sr.initScalars=0,x,1']),
    /hm4sr\.initScalars\[1\]: expected a number/,
  );
  throwsConfig(
    () => applyOverrides({}, ['hm4sr.initScalars=0,1']),
    /hm4sr\.initScalars: expected a list of 3 numbers/,
  );
});

test('precedence: defaults < file < --set < explicit CLI flags', () => {
  const dir = tmp();
  const file = write(dir, 'run.yaml', 'model: sasrec\nseed: 5\ndim: 32\ntrain:\n  lr: 0.01\n  epochs: 7\n');
  const fileOnly = resolveConfig({ file });
  assert.deepEqual([fileOnly.model, fileOnly.seed, fileOnly.dim, fileOnly.train.lr], ['sasrec', 5, 32, 0.01]);
  const withSet = resolveConfig({ file, overrides: ['seed=6', 'train.lr=0.02', 'model=hm4sr'] });
  assert.deepEqual(
    [withSet.model, withSet.seed, withSet.dim, withSet.train.lr, withSet.train.epochs],
    ['hm4sr', 6, 32, 0.02, 7],
  );
  const withFlags = resolveConfig({
    file,
    overrides: ['seed=6', 'train.lr=0.02'],
    cli: { model: 'cammsr', seed: 9, dim: undefined },
  });
  assert.equal(withFlags.model, 'cammsr');
  assert.equal(withFlags.seed, 9);
  assert.equal(withFlags.dim, 32, 'an absent (undefined) flag does not override');
  assert.equal(withFlags.train.lr, 0.02);
  // Nested CLI values merge into their section instead of replacing it.
  const nested = resolveConfig({ file, cli: { train: { batchSize: 8 } } });
  assert.deepEqual([nested.train.batchSize, nested.train.epochs, nested.train.lr], [8, 7, 0.01]);
  // Overrides may fix what only the combination makes valid: heads=3 with the file's dim=48.
  const fixed = resolveConfig({ file: write(dir, 'dim.yaml', 'dim: 48\n'), overrides: ['heads=3'] });
  assert.equal(fixed.heads, 3);
});

test('unknown keys in files are errors naming the file, the path and the valid keys', () => {
  const dir = tmp();
  throwsConfig(
    () => resolveConfig({ file: write(dir, 'a.yaml', 'train:\n  learningRate: 0.1\n') }),
    /a\.yaml: train: unknown key "learningRate"; valid keys in train: epochs, batchSize, lr, weightDecay/,
  );
  throwsConfig(
    () => resolveConfig({ file: write(dir, 'b.json', '{"modalities": ["id"]}') }),
    /b\.json: unknown key "modalities" \(did you mean "cammsr\.modalities" or "contentKnn\.modalities"\?\); valid keys at the top level/,
  );
  throwsConfig(
    () => resolveConfig({ file: write(dir, 'c.yaml', 'Seed: 2\n') }),
    /unknown key "Seed" \(did you mean "seed"\?\)/,
  );
  throwsConfig(
    () => resolveConfig({ file: write(dir, 'd.yaml', 'hm4sr:\n  scalars: [0, 1, 1]\n') }),
    /hm4sr: unknown key/,
  );
});

test('invalid values are reported with their zod path, what was expected and what was given', () => {
  const dir = tmp();
  const file = write(
    dir,
    'bad.yaml',
    `train:
  lr: fast
  validationMetric: AUC
hiddenDropout: 1
cammsr:
  msclRatio: 0
  categoryWeightScale: big
hm4sr:
  initScalars: [0, one, 1]
`,
  );
  assert.throws(
    () => resolveConfig({ file }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.source, file);
      assert.match(err.message, /bad\.yaml: 6 problems:/);
      assert.deepEqual(err.problems, [
        'hiddenDropout: expected a number in [0, 1), got 1',
        'train.lr: expected a positive number, got "fast"',
        "train.validationMetric: expected one of 'HR@5', 'HR@10', 'HR@20', 'NDCG@5', 'NDCG@10', 'NDCG@20', 'MRR@10', got \"AUC\"",
        'cammsr.categoryWeightScale: expected a non-negative number or \'modalities\', got "big"',
        'cammsr.msclRatio: expected a number in (0, 1], got 0',
        'hm4sr.initScalars[1]: expected a number, got "one"',
      ]);
      return true;
    },
  );
  // Checks across options.
  throwsConfig(
    () => resolveConfig({ overrides: ['heads=3'] }),
    /configuration: dim: must be a multiple of heads \(3\), got 64/,
  );
  throwsConfig(
    () => resolveConfig({ overrides: ['cammsr.modalities=text,image'] }),
    /cammsr\.modalities: must include 'id'/,
  );
  throwsConfig(() => resolveConfig({ overrides: ['cammsr.modalities=id,id'] }), /lists a modality twice/);
  throwsConfig(() => resolveConfig({ cli: { seed: -1 } }), /seed: expected a non-negative integer, got -1/);
  throwsConfig(
    () => parseConfig({ model: 'bert4rec' }),
    /model: expected one of 'cammsr', 'sasrec', 'popularity'/,
  );
});

test('stored configurations: a retired option at the value it always had loads; any other value fails', () => {
  const stored = { model: 'cammsr', cammsr: { experts: 3, expertKind: 'linear' } };
  const cfg = parseStoredConfig(stored, 'runs/a/config.json');
  assert.equal(cfg.cammsr.experts, 3);
  assert.ok(!('expertKind' in cfg.cammsr));
  assert.equal(stored.cammsr.expertKind, 'linear', 'the input is not modified');
  throwsConfig(
    () => parseStoredConfig({ cammsr: { expertKind: 'mlp' } }, 'runs/b/config.json'),
    /^runs\/b\/config\.json: cammsr: unknown key "expertKind"/,
  );
  // A new run cannot set it: it does nothing.
  throwsConfig(() => parseConfig({ cammsr: { expertKind: 'linear' } }), /unknown key "expertKind"/);
});

test('round trip: a resolved configuration written as JSON or YAML resolves to itself', () => {
  const dir = tmp();
  const configs: RunConfig[] = [
    resolveConfig(),
    resolveConfig({
      overrides: [
        'model=hm4sr',
        'train.threads=2',
        'train.lr=3e-4',
        'layerNormEps=1e-5',
        'cammsr.modalities=id,image',
        'cammsr.categoryWeightScale=modalities',
        'train.validationMetric=HR@20',
        'hm4sr.initScalars=0.1,0.2,0.3',
      ],
    }),
  ];
  for (const [i, c] of configs.entries()) {
    const json = write(dir, `r${i}.json`, JSON.stringify(c));
    assert.deepEqual(resolveConfig({ file: json }), c);
    saveConfig(join(dir, `r${i}.yaml`), c);
    assert.deepEqual(resolveConfig({ file: join(dir, `r${i}.yaml`) }), c);
    saveConfig(join(dir, `s${i}.json`), c);
    assert.equal(readFileSync(join(dir, `s${i}.json`), 'utf8'), formatConfig(c, 'json'));
    assert.deepEqual(resolveConfig({ file: join(dir, `s${i}.json`) }), c);
  }
  assert.match(formatConfig(configs[1], 'yaml'), /initScalars: \[0\.1, 0\.2, 0\.3\]/);
});

test('unseen items: auto is learned exactly when items are held out or ID views are masked', () => {
  const at = (...overrides: string[]) => effectiveUnseenItems(resolveConfig({ overrides }));
  assert.equal(at(), false);
  assert.equal(at('split.coldItems=0.1'), true);
  assert.equal(at('idMask=0.2'), true);
  assert.equal(at('unseenItems=embedding'), false);
  assert.equal(at('unseenItems=learned'), true);
  throwsConfig(
    () => resolveConfig({ overrides: ['split.coldItems=0.6'] }),
    /split\.coldItems: expected a number in \[0, 0\.5\]/,
  );
  throwsConfig(() => resolveConfig({ overrides: ['idMask=1'] }), /idMask: expected a number in \[0, 1\)/);
  throwsConfig(
    () => resolveConfig({ overrides: ['idMask=0.2', 'unseenItems=embedding'] }),
    /idMask: masks ID views with the learned unseen-item row, which unseenItems 'embedding' turns off/,
  );
});

test('dataset-dependent values: auto modalities and time, the residual scale', () => {
  const auto = resolveConfig();
  assert.deepEqual(effectiveModalities(auto, ['text']), ['id', 'text']);
  assert.deepEqual(effectiveModalities(auto, ['image', 'text']), ['id', 'text', 'image']);
  assert.deepEqual(effectiveModalities(auto, []), ['id']);
  const explicit = resolveConfig({ overrides: ['cammsr.modalities=image,id'] });
  assert.deepEqual(
    effectiveModalities(explicit, ['id', 'text', 'image']),
    ['id', 'image'],
    'canonical order',
  );
  throwsConfig(
    () => effectiveModalities(explicit, ['text']),
    /the dataset has no image features \(it has id, text\)/,
  );
  assert.equal(effectiveTime(auto, true), true);
  assert.equal(effectiveTime(auto, false), false);
  assert.equal(effectiveTime(resolveConfig({ overrides: ['cammsr.time=off'] }), true), false);
  throwsConfig(() => effectiveTime(resolveConfig({ overrides: ['cammsr.time=on'] }), false), /no timestamps/);
  assert.equal(effectiveWeightScale(auto, 3), 1);
  assert.equal(
    effectiveWeightScale(resolveConfig({ overrides: ['cammsr.categoryWeightScale=modalities'] }), 3),
    3,
  );
});

test('describeConfig: every option once, with a type, its real default and a description', () => {
  const docs = describeConfig();
  const defaults = resolveConfig() as unknown as Record<string, Record<string, unknown>>;
  const keys = docs.map((d) => d.key);
  assert.equal(new Set(keys).size, keys.length);
  // Every leaf of the defaulted configuration is documented (threads is optional: unset).
  const leaves: string[] = [];
  for (const [k, v] of Object.entries(defaults)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v))
      leaves.push(...Object.keys(v).map((s) => `${k}.${s}`));
    else leaves.push(k);
  }
  assert.deepEqual(keys.filter((k) => k !== 'train.threads').sort(), leaves.sort());
  for (const d of docs) {
    assert.ok(d.description.length > 10, `${d.key} has a description`);
    assert.ok(d.type.length > 0, `${d.key} has a type`);
    const [a, b] = d.key.split('.');
    assert.deepEqual(d.default, b === undefined ? defaults[a] : defaults[a][b], `${d.key} default`);
  }
  const lr = docs.find((d) => d.key === 'train.lr');
  assert.deepEqual(lr && { type: lr.type, default: lr.default }, { type: 'positive number', default: 0.001 });
  assert.equal(docs.find((d) => d.key === 'train.threads')?.type, 'positive integer (optional)');
});

test('docs/config.md is what scripts/gen-config-docs.mjs generates from the schema', async () => {
  // dist/test/config.test.js -> the repository root is two levels up.
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const script = join(root, 'scripts', 'gen-config-docs.mjs');
  const { renderConfigDocs } = (await import(pathToFileURL(script).href)) as {
    renderConfigDocs: () => string;
  };
  const expected = renderConfigDocs();
  const actual = readFileSync(join(root, 'docs', 'config.md'), 'utf8');
  assert.ok(
    actual === expected,
    'docs/config.md is out of date: run `npm run build && node scripts/gen-config-docs.mjs`',
  );
  for (const d of describeConfig()) assert.ok(actual.includes(`\`${d.key}\``), `docs mention ${d.key}`);
});

test('configOfModel keeps the sections the model reads and drops the others', () => {
  const keys = (model: string) =>
    Object.keys(configOfModel(resolveConfig({ cli: { model: model as 'sasrec' } }))).filter((k) =>
      ['cammsr', 'hm4sr', 'contentKnn', 'moca'].includes(k),
    );
  assert.deepEqual(keys('sasrec'), []);
  assert.deepEqual(keys('cammsr'), ['cammsr']);
  assert.deepEqual(keys('hm4sr'), ['cammsr', 'hm4sr']);
  assert.deepEqual(keys('content-knn'), ['contentKnn']);
  assert.deepEqual(keys('moca'), ['moca']);
  assert.ok('train' in configOfModel(resolveConfig({ cli: { model: 'sasrec' } })));
});
