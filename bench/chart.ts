// Self-contained SVG charts (no fonts, scripts or network): horizontal bar panels side by side.
import { MB } from './stats.ts';
import type { Results } from './types.ts';

type Bar = { readonly value: number; readonly label: string; readonly highlight?: boolean; readonly marker?: number };
type Panel = {
  readonly title: string;
  readonly unit: string;
  readonly bars: readonly Bar[];
  readonly limit?: { value: number; label: string };
};

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLORS = { bar: '#7aa6d8', highlight: '#1f5fa8', marker: '#d1495b', limit: '#d1495b', text: '#222', grid: '#ddd' };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '–';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** An axis maximum of four round steps (e.g. 0–1600 by 400, 0–20 by 5) above `v`. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= raw) ?? 10 * p;
  return step * 4;
}

function panels(title: string, subtitle: string, rowLabels: readonly string[], list: readonly Panel[], legend: readonly string[]): string {
  const labelW = 100;
  const panelW = 250;
  const gap = 80;
  const rowH = 26;
  const top = 78;
  const width = labelW + list.length * (panelW + gap) + 10;
  const height = top + rowLabels.length * rowH + 34 + legend.length * 16;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" font-size="16" font-weight="600" fill="${COLORS.text}">${esc(title)}</text>`,
    `<text x="10" y="40" fill="#555">${esc(subtitle)}</text>`,
  ];
  rowLabels.forEach((label, i) => {
    out.push(`<text x="${labelW - 8}" y="${top + i * rowH + 17}" text-anchor="end" fill="${COLORS.text}">${esc(label)}</text>`);
  });
  list.forEach((panel, p) => {
    const x0 = labelW + p * (panelW + gap);
    const max = niceMax(Math.max(...panel.bars.map((b) => Math.max(b.value, b.marker ?? 0)), panel.limit?.value ?? 0) * 1.5);
    const scale = (v: number): number => (Number.isFinite(v) ? (v / max) * panelW : 0);
    out.push(
      `<text x="${x0}" y="${top - 16}" font-weight="600" fill="${COLORS.text}">${esc(panel.title)} <tspan font-weight="400" fill="#555">(${esc(panel.unit)})</tspan></text>`,
    );
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const x = x0 + f * panelW;
      out.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + rowLabels.length * rowH}" stroke="${COLORS.grid}"/>`);
      out.push(
        `<text x="${x}" y="${top + rowLabels.length * rowH + 14}" text-anchor="middle" fill="#777" font-size="10">${fmt(f * max)}</text>`,
      );
    }
    panel.bars.forEach((bar, i) => {
      const y = top + i * rowH + 4;
      const w = scale(bar.value);
      out.push(
        `<rect x="${x0}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${bar.highlight ? COLORS.highlight : COLORS.bar}"/>`,
      );
      if (bar.marker !== undefined && Number.isFinite(bar.marker)) {
        const mx = x0 + scale(bar.marker);
        out.push(
          `<line x1="${mx.toFixed(1)}" y1="${y - 2}" x2="${mx.toFixed(1)}" y2="${y + rowH - 6}" stroke="${COLORS.marker}" stroke-width="2"/>`,
        );
      }
      out.push(
        `<text x="${(x0 + Math.max(w, bar.marker !== undefined ? scale(bar.marker) : 0) + 4).toFixed(1)}" y="${y + 13}" fill="${COLORS.text}" font-size="11">${esc(bar.label)}</text>`,
      );
    });
    if (panel.limit) {
      const lx = x0 + scale(panel.limit.value);
      out.push(
        `<line x1="${lx.toFixed(1)}" y1="${top - 4}" x2="${lx.toFixed(1)}" y2="${top + rowLabels.length * rowH}" stroke="${COLORS.limit}" stroke-dasharray="4 3"/>`,
      );
      out.push(
        `<text x="${lx.toFixed(1)}" y="${top - 4}" text-anchor="middle" fill="${COLORS.limit}" font-size="10">${esc(panel.limit.label)}</text>`,
      );
    }
  });
  legend.forEach((line, i) => {
    out.push(`<text x="10" y="${top + rowLabels.length * rowH + 32 + i * 16}" fill="#555" font-size="11">${esc(line)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Size, backup time and restore time per compression setting. */
export function compressionChart(r: Results): string {
  const ds = r.datasets.find((d) => d.database === r.compression.dataset);
  const rows = r.compression.rows;
  const dbMb = (ds?.databaseBytes ?? NaN) / MB;
  return panels(
    `Compression: size and time (${(dbMb / 1000).toFixed(2)} GB database, PostgreSQL 18, pg_dump 18)`,
    `Medians of ${Math.max(...rows.map((x) => x.floorS.n))} interleaved runs on ${r.environment.host.cpus} vCPUs; default ${r.defaultCompression} in dark blue.`,
    rows.map((x) => x.compression),
    [
      {
        title: 'Archive size',
        unit: 'MB',
        bars: rows.map((x) => ({
          value: x.bytes / MB,
          label: `${fmt(x.bytes / MB)} (${(x.ratioToDatabase * 100).toFixed(0)}%)`,
          highlight: x.compression === r.defaultCompression,
        })),
      },
      {
        title: 'Backup time',
        unit: 's',
        bars: rows.map((x) => ({
          value: x.toolFileS.median,
          marker: x.floorS.median,
          label: `${fmt(x.toolFileS.median)} (pg_dump ${fmt(x.floorS.median)})`,
          highlight: x.compression === r.defaultCompression,
        })),
      },
      {
        title: 'Restore time',
        unit: 's',
        bars: rows.map((x) => ({
          value: x.restoreS?.median ?? NaN,
          label: fmt(x.restoreS?.median ?? NaN),
          highlight: x.compression === r.defaultCompression,
        })),
      },
    ],
    [
      'Archive size: bytes of the custom-format archive (% of pg_database_size). Backup time: rds-s3-backup backup to file:// (bar)',
      'and bare pg_dump -Fc to /dev/null with the same compression (red tick). Restore time: pg_restore from a local file into an empty database.',
    ],
  );
}

/** Backup time and peak memory per database size: the memory must not grow with the database. */
export function memoryChart(r: Results): string {
  const groups = r.backup.groups;
  const rowsOf = r.datasets.flatMap((d) =>
    groups
      .filter((g) => g.dataset === d.database && g.kind !== 'floor')
      .map((g) => ({ d, kind: g.partSizeMiB !== null ? `S3 ${g.partSizeMiB}×${g.queueSize}` : g.kind, g })),
  );
  const rows = rowsOf.filter((x) => x.g);
  const floorOf = (db: string): number => groups.find((g) => g.dataset === db && g.kind === 'floor')?.wallS.median ?? NaN;
  const label = (d: (typeof r.datasets)[number], kind: string): string =>
    `${d.databaseBytes >= 1e9 ? `${(d.databaseBytes / 1e9).toFixed(1)} GB` : `${(d.databaseBytes / 1e6).toFixed(0)} MB`} ${kind === 's3' ? 'S3' : kind}`;
  return panels(
    `Backup at ${r.defaultCompression}: time and peak memory vs database size`,
    `Medians of ${r.backup.samples.filter((s) => s.kind === 'floor').length / Math.max(1, r.datasets.length)} interleaved runs; rds-s3-backup to file:// and to a local S3 server (moto).`,
    rows.map((x) => label(x.d, x.kind)),
    [
      {
        title: 'Wall time',
        unit: 's',
        bars: rows.map((x) => ({
          value: x.g!.wallS.median,
          marker: floorOf(x.d.database),
          label: `${fmt(x.g!.wallS.median)} (${fmt(x.g!.ratioToFloor?.median ?? NaN)}× pg_dump)`,
        })),
      },
      {
        title: 'Node peak RSS',
        unit: 'MiB',
        bars: rows.map((x) => ({ value: x.g!.nodeRssMiB?.max ?? NaN, label: fmt(x.g!.nodeRssMiB?.max ?? NaN), highlight: true })),
        limit: { value: 160, label: 'target 160' },
      },
      {
        title: 'pg_dump peak RSS',
        unit: 'MiB',
        bars: rows.map((x) => ({ value: x.g!.pgDumpRssMiB?.max ?? NaN, label: fmt(x.g!.pgDumpRssMiB?.max ?? NaN) })),
      },
    ],
    [
      'Wall time: bar = rds-s3-backup, red tick = bare pg_dump -Fc to /dev/null in the same repetitions. RSS: the largest of all repetitions.',
    ],
  );
}
