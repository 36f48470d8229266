/* report.js - renders lucid's characterization report from the embedded results.json
 * (schema lucid-characterize/1) with Chart.js when it is inlined; tables need nothing.
 * When done it sets body[data-status] to "ok" (or "error"), body[data-charts] to the number
 * of charts drawn, so a headless browser can check the page. */
(function () {
  'use strict';
  var R = JSON.parse(document.getElementById('results').textContent);
  var root = document.getElementById('report');
  root.innerHTML = '';
  var charts = 0, chartsWanted = 0;
  var hasChart = typeof Chart !== 'undefined';
  if (hasChart) { Chart.defaults.animation = false; Chart.defaults.responsive = true; Chart.defaults.maintainAspectRatio = false; }
  var palette = ['#0969da', '#1a7f37', '#bf8700', '#8250df', '#cf222e', '#1b7c83', '#953800', '#6e7781'];

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function add(parent, tag, attrs, text) { var e = el(tag, attrs, text); parent.appendChild(e); return e; }
  function fmt(v, d) {
    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v))) return '-';
    if (typeof v !== 'number') return String(v);
    if (d === undefined) d = Math.abs(v) >= 100 ? 1 : Math.abs(v) >= 1 ? 3 : 4;
    return v.toFixed(d);
  }
  function bytes(v) {
    if (v === null || v === undefined) return '-';
    if (v >= 1 << 20) return (v / (1 << 20)).toFixed(2) + ' MiB';
    if (v >= 1 << 10) return (v / (1 << 10)).toFixed(1) + ' KiB';
    return v + ' B';
  }
  function table(parent, head, rows, leftCols, rowClass) {
    var t = add(parent, 'table'), tr = add(t, 'tr');
    head.forEach(function (h, i) { add(tr, 'th', leftCols && leftCols.indexOf(i) >= 0 ? { 'class': 'l' } : null, h); });
    rows.forEach(function (r, j) {
      var row = add(t, 'tr', rowClass ? { 'class': rowClass(j) } : null);
      r.forEach(function (c, i) { add(row, 'td', leftCols && leftCols.indexOf(i) >= 0 ? { 'class': 'l' } : null, c); });
    });
    return t;
  }
  function chart(parent, cfg, tall) {
    chartsWanted++;
    var box = add(parent, 'div', { 'class': tall ? 'chart tall' : 'chart' });
    if (!hasChart) { add(box, 'p', { 'class': 'note' }, 'Chart not drawn: Chart.js was not available when the report was written (' + (window.__chartjs_missing || '') + ').'); return; }
    var c = add(box, 'canvas');
    var ch = new Chart(c.getContext('2d'), cfg);
    if (ch && ch.chartArea && ch.chartArea.width > 0) charts++;
  }
  var cells = R.cells || [];
  var measured = cells.filter(function (c) { return c.latency; });
  var ref = cells.filter(function (c) { return c.engine === 'lucid' && c.config === 'reference' && c.latency; })[0];
  function shorten(list) {
    if (!list) return '';
    var parts = list.split('; ');
    return parts.length <= 3 ? list : parts.slice(0, 3).join('; ') + '; and ' + (parts.length - 3) + ' more (determinism.csv)';
  }
  function speedup(c) { return ref && c.latency ? ref.latency.median / c.latency.median : null; }

  /* ---- header ---- */
  add(root, 'h1', null, 'lucid characterize: ' + R.model.path);
  var p = add(root, 'p', { 'class': 'note' });
  p.textContent = 'Dataset: ' + R.dataset.description + ' (' + R.dataset.samples + ' samples). Started ' + R.started +
    ', ' + fmt(R.seconds, 1) + ' s. Device ' + R.settings.device + ', ' + R.environment.threads + ' threads. Schema ' + R.schema + '.';
  if (!R.complete) add(root, 'p', { 'class': 'bad' }, R.interrupted ? 'Interrupted: these results are partial.' : 'Incomplete: the run was still going (or stopped) when this was written.');
  if (R.command) add(root, 'p', { 'class': 'note' }, 'Command: ' + R.command);
  var lb = R.environment.load_before, la = R.environment.load_after;
  if (lb && lb[0] > 0.5 * R.environment.cores || la && la[0] > 0.5 * R.environment.cores + 1)
    add(root, 'p', { 'class': 'warn' }, 'The machine was busy while measuring: load average ' + lb[0] + ' before, ' + (la ? la[0] : '-') + ' after, on ' + R.environment.cores + ' cores. Absolute times are noisy; ratios measured close together are more robust.');

  /* ---- summary ---- */
  add(root, 'h2', null, 'Summary');
  table(root, ['engine', 'config', 'status', 'median ms', 'p90 ms (SingleStream)', 'speedup vs reference', 'Offline samples/s (batch)', 'top-1 %', 'argmax agreement %', 'max abs error', 'build s', 'plan', 'activations', 'weights'],
    cells.map(function (c) {
      var l = c.latency, a = c.accuracy, k = c.cost, o = c.scenarios.offline;
      return [c.engine, c.config, c.status,
        l ? fmt(l.median) : '-', l ? fmt(l.p90) : '-', speedup(c) ? fmt(speedup(c), 2) + 'x' : '-',
        o && o.best_samples_per_s ? fmt(o.best_samples_per_s, 1) + ' (' + o.best_batch + ')' : '-',
        a && a.top1 !== undefined ? fmt(a.top1, 2) : '-',
        a && a.vs_reference ? fmt(a.vs_reference.argmax_agreement, 2) : '-',
        a && a.vs_reference ? a.vs_reference.max_abs_error.toExponential(2) : '-',
        k ? fmt(k.build_s, 3) : '-', k ? bytes(k.plan_bytes) : '-', k ? bytes(k.activation_bytes) : '-', k ? bytes(k.weight_bytes) : '-'];
    }), [0, 1, 2], function (j) { return cells[j].status; });
  var notRun = cells.filter(function (c) { return c.status !== 'ok' && c.reason; });
  if (notRun.length) {
    add(root, 'h3', null, 'Not measured');
    var ul = add(root, 'ul');
    notRun.forEach(function (c) { add(ul, 'li', null, c.label + ' (' + c.status + '): ' + c.reason); });
  }
  var noted = cells.filter(function (c) { return c.note; });
  if (noted.length) {
    add(root, 'h3', null, 'Notes');
    var nl = add(root, 'ul');
    noted.forEach(function (c) { add(nl, 'li', null, c.label + ': ' + c.note); });
  }
  measured.forEach(function (c) { if (c.latency.cv_warning) add(root, 'p', { 'class': 'warn' }, c.label + ': latency coefficient of variation ' + fmt(100 * c.latency.cv, 1) + '% is above 1%: a noisy measurement.'); });

  /* ---- speedup ---- */
  add(root, 'h2', null, 'Speedup');
  if (ref) {
    add(root, 'p', { 'class': 'note' }, 'Median latency of the lucid reference config (no optimization, reference kernels) divided by each cell\'s median, batch 1.');
    chart(root, { type: 'bar', data: { labels: measured.map(function (c) { return c.label; }),
      datasets: [{ label: 'speedup vs lucid/reference (x)', data: measured.map(speedup), backgroundColor: measured.map(function (c, i) { return c.engine === 'lucid' ? palette[0] : palette[2 + i % 5]; }) }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { type: 'logarithmic', title: { display: true, text: 'speedup (log scale)' } } } } });
  } else add(root, 'p', { 'class': 'note' }, 'No speedup chart: the lucid reference config was not measured.');

  /* ---- latency ---- */
  add(root, 'h2', null, 'Latency distributions');
  add(root, 'p', { 'class': 'note' }, 'Warm-up ' + R.settings.warmup_ms + ' ms, then at least ' + R.settings.min_iterations + ' runs and ' + R.settings.min_duration_s + ' s. Percentiles: ' + R.settings.percentiles + '.');
  var pct = ['min', 'median', 'p90', 'p95', 'p99', 'max'];
  chart(root, { type: 'line', data: { labels: pct, datasets: measured.map(function (c, i) {
    return { label: c.label, data: pct.map(function (k) { return c.latency[k]; }), borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length] }; }) },
    options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'ms (log scale)' } } } } });
  var hist = measured.filter(function (c) { return c.latency.histogram; });
  if (hist.length) {
    add(root, 'h3', null, 'Histograms (runs per latency bin)');
    var g = add(root, 'div', { 'class': 'grid' });
    hist.forEach(function (c, i) {
      var h = c.latency.histogram, n = h.counts.length, w = (h.hi_ms - h.lo_ms) / n;
      var d = add(g, 'div'); add(d, 'div', { 'class': 'note' }, c.label);
      chart(d, { type: 'bar', data: { labels: h.counts.map(function (_, k) { return fmt(h.lo_ms + (k + 0.5) * w); }),
        datasets: [{ label: c.label, data: h.counts, backgroundColor: palette[i % palette.length] }] },
        options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: 'ms' } }, y: { title: { display: true, text: 'runs' } } } } });
    });
  }
  table(root, ['cell', 'iterations', 'min', 'mean', 'median', 'p90', 'p95', 'p99', 'max', 'stddev', 'CV %', 'throughput /s'],
    measured.map(function (c) { var l = c.latency; return [c.label, l.iterations, fmt(l.min), fmt(l.mean), fmt(l.median), fmt(l.p90), fmt(l.p95), fmt(l.p99), fmt(l.max), fmt(l.stddev), fmt(100 * l.cv, 2), fmt(l.throughput, 1)]; }), [0]);

  var gpu = measured.filter(function (c) { return c.latency.gpu_breakdown; });
  if (gpu.length) {
    add(root, 'h3', null, 'GPU breakdown (mean ms per run, trtexec\'s definitions)');
    table(root, ['cell', 'host-to-device', 'compute', 'device-to-host', 'enqueue'], gpu.map(function (c) { var g3 = c.latency.gpu_breakdown; return [c.label, fmt(g3.h2d_ms), fmt(g3.compute_ms), fmt(g3.d2h_ms), fmt(g3.enqueue_ms)]; }), [0]);
  }

  /* ---- offline ---- */
  add(root, 'h2', null, 'Scenarios: SingleStream and Offline');
  add(root, 'p', { 'class': 'note' }, 'SingleStream: 90th-percentile latency at batch 1. Offline: samples per second at each batch of the sweep; the best is reported (MLPerf LoadGen\'s definitions).');
  var offl = measured.filter(function (c) { return c.scenarios.offline.batches.length; });
  var batches = R.settings.batches.filter(function (b) { return offl.some(function (c) { return c.scenarios.offline.batches.some(function (y) { return y.batch === b; }); }); });
  chart(root, { type: 'bar', data: { labels: batches.map(function (b) { return 'batch ' + b; }), datasets: offl.map(function (c, i) {
    return { label: c.label, data: batches.map(function (b) { var x = c.scenarios.offline.batches.filter(function (y) { return y.batch === b; })[0]; return x ? x.samples_per_s : null; }), backgroundColor: palette[i % palette.length] }; }) },
    options: { scales: { y: { title: { display: true, text: 'samples / s' } } } } });
  var notes = {};
  offl.forEach(function (c) { var n = c.scenarios.offline.note; if (n) (notes[n] = notes[n] || []).push(c.label); });
  Object.keys(notes).forEach(function (n) { add(root, 'p', { 'class': 'note' }, notes[n].join(', ') + ': ' + n); });

  /* ---- per-layer ---- */
  add(root, 'h2', null, 'Per-layer profile');
  add(root, 'p', { 'class': 'note' }, 'A separate profiling run (not the latency run): mean wall time per layer per run, its tactic, and the achieved rates from the layer\'s FLOPs (2 x MACs + other arithmetic) and bytes (activations read and written + weights). profile.trace.json opens in Perfetto.');
  var prof = cells.filter(function (c) { return c.profile; });
  if (prof.length) {
    /* time by op type: comparable across configs, whose layers differ (fusion renames them) */
    var ops = [];
    prof.forEach(function (c) { c.profile.layers.forEach(function (l) { if (ops.indexOf(l.op) < 0) ops.push(l.op); }); });
    add(root, 'h3', null, 'Time per run by layer type');
    chart(root, { type: 'bar', data: { labels: prof.map(function (c) { return c.label; }), datasets: ops.map(function (op, i) {
      return { label: op, data: prof.map(function (c) { return c.profile.layers.filter(function (l) { return l.op === op; }).reduce(function (a, l) { return a + l.mean_ms; }, 0); }), backgroundColor: palette[i % palette.length] }; }) },
      options: { indexAxis: 'y', scales: { x: { stacked: true, title: { display: true, text: 'ms per run' } }, y: { stacked: true } } } });
    /* the slowest layers of the headline config */
    var main = prof.filter(function (c) { return c.config === 'tuned'; })[0] || prof[prof.length - 1];
    var top = main.profile.layers.slice().sort(function (a, b) { return b.mean_ms - a.mean_ms; }).slice(0, 25);
    add(root, 'h3', null, 'Slowest layers of ' + main.label + ' (' + top.length + ' of ' + main.profile.layers.length + ')');
    chart(root, { type: 'bar', data: { labels: top.map(function (l) { return l.name.length > 60 ? l.name.slice(0, 57) + '...' : l.name; }),
      datasets: [{ label: 'ms per run', data: top.map(function (l) { return l.mean_ms; }), backgroundColor: top.map(function (l) { return palette[ops.indexOf(l.op) % palette.length]; }) }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false }, tooltip: { callbacks: { afterLabel: function (ctx) { var l = top[ctx.dataIndex]; return l.op + ', ' + l.tactic + ', ' + fmt(l.gflops_per_s, 2) + ' GFLOP/s'; } } } },
        scales: { x: { title: { display: true, text: 'ms per run' } } } } }, true);
    prof.forEach(function (c) {
      var d = add(root, 'details'); add(d, 'summary', null, c.label + ': ' + c.profile.layers.length + ' layers, ' + fmt(c.profile.total_ms) + ' ms per run (' + c.profile.runs + ' profiled runs)');
      table(d, ['#', 'layer', 'op', 'tactic', 'mean ms', 'share %', 'GFLOP', 'MB', 'GFLOP/s', 'GB/s'],
        c.profile.layers.map(function (l, i) { return [i, l.name, l.op, l.tactic, fmt(l.mean_ms), fmt(100 * l.share, 1), fmt(l.flops / 1e9, 4), fmt(l.bytes / 1e6, 3), fmt(l.gflops_per_s, 2), fmt(l.gbytes_per_s, 2)]; }), [1, 2, 3]);
    });
  } else add(root, 'p', { 'class': 'note' }, 'No profile was measured.');

  /* ---- accuracy ---- */
  add(root, 'h2', null, 'Accuracy');
  add(root, 'p', { 'class': 'note' }, 'Against labels (top-1/top-5) where the dataset has them, and against the FP32 reference outputs (' + (R.reference_outputs.note || 'unavailable') + '): argmax agreement, max absolute and relative error, cosine similarity.');
  var acc = cells.filter(function (c) { return c.accuracy && c.accuracy.samples; });
  var refTop1 = ref && ref.accuracy ? ref.accuracy.top1 : null;
  if (acc.length && R.dataset.labelled && refTop1 !== null)
    chart(root, { type: 'bar', data: { labels: acc.map(function (c) { return c.label; }), datasets: [
      { label: 'top-1 change vs reference (percentage points)', data: acc.map(function (c) { return c.accuracy.top1 - refTop1; }), backgroundColor: palette[0] },
      { label: 'argmax disagreement with reference (%)', data: acc.map(function (c) { return c.accuracy.vs_reference ? 100 - c.accuracy.vs_reference.argmax_agreement : null; }), backgroundColor: palette[4] }] } });
  else if (acc.length)
    chart(root, { type: 'bar', data: { labels: acc.map(function (c) { return c.label; }), datasets: [
      { label: 'max abs error vs reference', data: acc.map(function (c) { return c.accuracy.vs_reference ? c.accuracy.vs_reference.max_abs_error : null; }), backgroundColor: palette[4] }] } });
  table(root, ['cell', 'samples', 'top-1 %', 'top-5 %', 'agreement %', 'max abs error', 'max rel error', 'cosine', 'note'],
    cells.filter(function (c) { return c.accuracy; }).map(function (c) { var a = c.accuracy, v = a.vs_reference;
      return [c.label, a.samples || '-', fmt(a.top1, 2), fmt(a.top5, 2), v ? fmt(v.argmax_agreement, 2) : '-', v ? v.max_abs_error.toExponential(3) : '-', v ? v.max_rel_error.toExponential(3) : '-', v ? v.cosine.toFixed(8) : '-', a.note || '']; }), [0, 8]);

  /* ---- determinism ---- */
  add(root, 'h2', null, 'Determinism');
  add(root, 'p', { 'class': 'note' }, 'Run-to-run: ' + R.settings.runs + ' runs of one engine on one input, digests of the outputs. Build-to-build: ' + R.settings.builds + ' independent builds: plan file, tactic set and output digests, and the latency spread. A divergence is localized by comparing every layer\'s output digest (as Polygraphy\'s "mark all").');
  table(root, ['cell', 'check', 'count', 'distinct outputs', 'distinct plans', 'distinct tactic sets', 'latency spread %', 'first diverging layer', 'its tactic', 'layers differing', 'differing tactics / note'],
    [].concat.apply([], cells.map(function (c) {
      var rows = [], d = c.determinism || {};
      if (d.run_to_run) { var r = d.run_to_run, f = r.first_diverging_layer; rows.push([c.label, 'run-to-run', r.runs, r.distinct_outputs, '-', '-', '-', f ? f.name + ' (' + f.op + ')' : r.note ? 'not localized' : 'none', f ? f.tactic : '-', r.note ? '-' : r.layers_differing, r.note || '']); }
      if (d.build_to_build && d.build_to_build.builds) { var b = d.build_to_build, g2 = b.first_diverging_layer; rows.push([c.label, 'build-to-build', b.builds, b.distinct_outputs, b.distinct_plans, b.distinct_tactic_sets, fmt(100 * b.latency_spread, 1), g2 ? g2.name + ' (' + g2.op + ')' : 'none', g2 ? g2.tactic : '-', b.layers_differing, shorten(b.differing_tactics) + (b.note ? ' ' + b.note : '')]); }
      else if (d.build_to_build && d.build_to_build.note) rows.push([c.label, 'build-to-build', '-', '-', '-', '-', '-', '-', '-', '-', d.build_to_build.note]);
      return rows; })), [0, 1, 7, 8, 10]);

  /* ---- attribution ---- */
  add(root, 'h2', null, 'Attribution (ablation)');
  add(root, 'p', { 'class': 'note' }, 'Each config adds one optimization to its base; a config\'s speedup over the reference is the product of its chain\'s steps. Share of speedup = log(step) / log(total); share of the top-1 change = step change / total change.');
  table(root, ['config', 'step', 'adds', 'over', 'step speedup', 'cumulative', 'share of speedup %', 'top-1 change (pp)', 'share of top-1 change %', 'agreement change (pp)'],
    (R.ablation || []).map(function (a) { return [a.leaf, a.step, a.adds, a.base, fmt(a.step_speedup, 3) + 'x', fmt(a.cumulative_speedup, 3) + 'x', a.share_of_speedup === null ? '-' : fmt(100 * a.share_of_speedup, 1), fmt(a.top1_change, 2), a.share_of_top1_change === null ? '-' : fmt(100 * a.share_of_top1_change, 1), fmt(a.agreement_change, 2)]; }), [0, 1, 2, 3]);
  add(root, 'h3', null, 'Configs');
  table(root, ['config', 'available', 'adds', 'over', 'what'], R.configs.map(function (c) { return [c.name, c.available ? 'yes' : 'no: ' + c.reason, c.adds || '-', c.base || '-', c.summary]; }), [0, 1, 2, 3, 4]);

  /* ---- environment ---- */
  add(root, 'h2', null, 'Environment');
  var E = R.environment;
  var envRows = [['CPU', E.cpu_model], ['CPU flags', E.cpu_flags], ['cores / threads used', E.cores + ' / ' + E.threads], ['memory', bytes(E.mem_total_kb * 1024)],
    ['governor / clock', (E.cpu_governor || 'not readable') + ' / ' + (E.cpu_mhz ? E.cpu_mhz + ' MHz' : 'not readable')], ['GPU', E.gpu], ['kernel', E.kernel], ['compiler', E.compiler],
    ['lucid', E.lucid_version], ['oneDNN', E.onednn_version], ['OpenBLAS', E.openblas], ['load average before / after', (E.load_before || []).join(' ') + ' / ' + (E.load_after || []).join(' ')]];
  var seen = {};
  cells.forEach(function (c) { if (c.engine !== 'lucid' && c.engine_version && !seen[c.engine]) { seen[c.engine] = true; envRows.push([c.engine, c.engine_version]); } });
  if (R.settings.python) envRows.push(['Python of the peers', R.settings.python + (R.settings.torch_python && R.settings.torch_python !== R.settings.python ? ' (PyTorch: ' + R.settings.torch_python + ')' : '')]);
  table(root, ['', ''], envRows, [0, 1]);

  document.body.setAttribute('data-charts', String(charts));
  document.body.setAttribute('data-charts-wanted', String(chartsWanted));
  if (!window.__errors.length) document.body.setAttribute('data-status', 'ok');
})();
