// The report page's inline style sheet. Kept in one constant so the page needs nothing from
// the network: system fonts only, no images, no scripts.

enum HTMLStyle {
    static let css = """
        :root{
          --fg:#1f2937;
          --muted:#6b7280;
          --line:#e5e7eb;
          --bg:#f4f5f7;
          --card:#fff;
          --ok:#2f8f55;
          --bad:#c93636;
          --warn:#b7791f
        }
        *{box-sizing:border-box}
        body{
          margin:0;
          background:var(--bg);
          color:var(--fg);
          font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif
        }
        main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
        .card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px;margin:0 0 14px}
        h1{font-size:22px;margin:0;word-break:break-word}
        h2{font-size:13px;margin:22px 0 8px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
        h3{font-size:15px;margin:0}
        code,.mono{
          font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;
          font-size:12.5px
        }
        .badge{
          display:inline-block;
          padding:3px 14px;
          border-radius:999px;
          font-weight:700;
          font-size:13px;
          letter-spacing:.08em;
          color:#fff
        }
        .badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}
        .title-row{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
        .title-row .muted{color:var(--muted)}
        .desc{margin:6px 0 14px;color:#374151}
        .meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px 18px;margin:0}
        .meta div.wide{grid-column:span 3}
        .meta dt{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
        .meta dd{margin:0;font-weight:600;word-break:break-all}
        .sabotage{
          display:inline-block;
          background:#fff4e5;
          color:#8a4b00;
          border:1px solid #f5c27a;
          border-radius:6px;
          padding:0 8px
        }
        .repro{
          margin-top:14px;
          padding:8px 12px;
          background:#0f172a;
          color:#e2e8f0;
          border-radius:6px;
          overflow-x:auto;
          white-space:nowrap
        }
        .repro span{color:#94a3b8;margin-right:10px;font-size:12px}
        .repro code{user-select:all}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
        tr:last-child td{border-bottom:none}
        .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        .violations td{word-break:break-word}
        details summary{cursor:pointer;color:var(--bad);font-size:12.5px;font-weight:600;margin:8px 10px}
        .violations{border-color:#f0b4b4;background:#fff8f8}
        .card h2{margin-top:0}
        .violations h2{color:var(--bad)}
        .tiles{display:grid;grid-template-columns:repeat(5,minmax(0,1fr)) minmax(0,2.2fr);gap:12px;margin-bottom:14px}
        .tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
        .tile .k{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
        .tile .v{font-size:24px;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
        .tile .s{font-size:12px;color:var(--muted)}
        .tile.bad{border-color:#f0b4b4;background:#fff8f8}.tile.bad .v{color:var(--bad)}
        .good{color:var(--ok);font-weight:600}.bad-text{color:var(--bad);font-weight:600}
        .tile table td,.tile table th{padding:2px 6px}
        .tile table td{font-size:13px}
        .zero{color:#b0b6bf}
        .anno{
          display:flex;
          gap:18px;
          flex-wrap:wrap;
          align-items:center;
          font-size:12px;
          color:var(--muted);
          margin:-2px 0 10px
        }
        .chart{padding-bottom:8px}
        .chart-head{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap;margin-bottom:2px}
        .note{color:var(--muted);font-size:12px}
        .legend{margin-left:auto;display:flex;gap:14px;flex-wrap:wrap;font-size:12px}
        .key{display:inline-flex;align-items:center;gap:6px}
        .sw{display:inline-block;width:18px;height:3px;border-radius:2px;background:var(--c)}
        .sw.area{width:12px;height:12px;border-radius:3px}
        .sw.dash{background:repeating-linear-gradient(90deg,var(--c) 0 6px,transparent 6px 9px)}
        .sw.band{width:14px;height:12px;border-radius:2px}
        svg.plot{display:block;width:100%;height:auto}
        svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        .grid{stroke:#eceef1}.axis{stroke:#9ca3af}
        .yt{font-size:11px;fill:#6b7280;text-anchor:end}.xt{font-size:11px;fill:#6b7280;text-anchor:middle}
        .ln{fill:none;stroke-linejoin:round;stroke-linecap:round}
        .fault{fill:#e4572e;fill-opacity:.10;pointer-events:none}
        .recov{fill:#3b82f6;fill-opacity:.08;pointer-events:none}
        .safety{stroke:#334155;stroke-width:1.3;stroke-dasharray:5 4}
        .flabel{font-size:10.5px;fill:#a4341c;font-weight:600}.rlabel{font-size:10.5px;fill:#1e4fa8;font-weight:600}
        .slolabel{font-size:11px;fill:#c93636;text-anchor:end;font-weight:600}
        .hv rect{fill:transparent}.hv rect:hover{fill:rgba(15,23,42,.08)}
        .nodata{font-size:13px;fill:#9ca3af;text-anchor:middle}
        .lane{font-size:11.5px;fill:#374151;text-anchor:end}
        .bk-closed{fill:#9fd8b2}.bk-half{fill:#f2b134}.bk-open{fill:#d64545}.bk-unknown{fill:#9ca3af}
        .bk-half:hover,.bk-open:hover,.bk-closed:hover{opacity:.8}
        .pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:14px}
        .pair .card{margin:0}
        .hit{color:var(--ok);font-weight:600}.miss{color:var(--warn);font-weight:600}
        .empty{color:var(--muted);margin:4px 0}
        .more{color:var(--muted);font-size:12px;margin:6px 0 0}
        footer{color:var(--muted);font-size:12px;text-align:center;margin-top:18px}
        @media (max-width:900px){.tiles{grid-template-columns:repeat(2,minmax(0,1fr))}.pair{grid-template-columns:1fr}}
        """
}
