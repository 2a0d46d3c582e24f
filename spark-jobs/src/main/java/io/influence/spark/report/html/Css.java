package io.influence.spark.report.html;

/** The report's inline style sheet: system fonts only, no external resources. */
final class Css {

  private Css() {}

  /** Shade levels of a token's background: level i is opacity i / LEVELS (the legend's swatches). */
  static final int LEVELS = 10;

  /**
   * The token shades of up to {@code keys} methods per query ({@link TokenPart}): a token's class {@code ap3} is drawn
   * (positive colour, opacity 3 / {@value #LEVELS}) only while the radio input of method {@code a} is checked
   * ({@code .ka:checked~.seqs .ap3}), so one set of token spans serves every method. One rule per shade and colour,
   * listing every method's selector; text white from level 6 on; the picked method's line in each sequence head is
   * highlighted.
   */
  static String levels(String posRgb, String negRgb, int keys) {
    StringBuilder out = new StringBuilder();
    for (int i = 1; i <= LEVELS; i++) {
      String alpha = Fmt.fixed(i / (double) LEVELS, 1);
      out.append(shade(keys, 'p', i)).append("{background:rgba(").append(posRgb).append(',').append(alpha).append(")}")
          .append(shade(keys, 'n', i)).append("{background:rgba(").append(negRgb).append(',').append(alpha).append(")}");
      if (i > LEVELS / 2) {
        out.append(shade(keys, 'p', i)).append(',').append(shade(keys, 'n', i)).append("{color:#fff}");
      }
      out.append('\n');
    }
    for (int k = 0; k < keys; k++) {
      String key = TokenPart.key(k);
      out.append(k == 0 ? "" : ",").append(".k").append(key).append(":checked~.seqs .m-").append(key);
    }
    return out.append("{background:#fff8c5;border-radius:4px}\n").toString();
  }

  /** The selector of shade {@code level} of sign {@code sign} ('p' or 'n') for every method key. */
  private static String shade(int keys, char sign, int level) {
    StringBuilder out = new StringBuilder();
    for (int k = 0; k < keys; k++) {
      String key = TokenPart.key(k);
      out.append(k == 0 ? "" : ",").append(".k").append(key).append(":checked~.seqs .").append(key).append(sign)
          .append(level);
    }
    return out.toString();
  }

  static final String TEXT =
      """
      :root{--pos:rgb(33,102,172);--neg:rgb(178,24,43);--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;}
      *{box-sizing:border-box}
      body{margin:0 auto;max-width:1180px;padding:24px 28px 48px;color:var(--ink);background:#fff;
        font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
      code,.tokens,.text,.hash{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
      h1{font-size:24px;margin:0 0 4px}
      h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
      h3{font-size:14px;margin:16px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
      h4{font-size:13px;margin:8px 0 4px;color:var(--muted)}
      .sub{color:var(--muted);margin:0 0 8px}
      nav ol{margin:0;padding-left:20px;columns:2}
      a{color:var(--pos)}
      .legend{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:4px 16px 8px;margin-top:20px}
      .legend h2{border:0;margin-top:12px}
      .scales{display:flex;gap:28px;flex-wrap:wrap}
      .scale{display:flex;align-items:center;gap:2px}
      .swatch{display:inline-block;width:18px;height:14px;border:1px solid #fff}
      .swatch-label{font-size:12px;color:var(--muted);margin:0 6px}
      .pos-text{color:var(--pos);font-weight:600}.neg-text{color:var(--neg);font-weight:600}
      .tok-demo{font-family:monospace;background:rgba(33,102,172,.25);padding:0 2px}
      table{border-collapse:collapse}
      .kv th{text-align:left;font-weight:600;padding:3px 16px 3px 0;vertical-align:top;white-space:nowrap}
      .kv td{padding:3px 0}
      .grid th,.grid td{border-bottom:1px solid var(--line);padding:4px 10px;text-align:left;vertical-align:top}
      .grid th{background:var(--bg)}
      .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
      .pre,.text{white-space:pre-wrap;overflow-wrap:anywhere}
      .hash{font-size:11.5px;word-break:break-all}
      details>summary{cursor:pointer;color:var(--muted);margin:6px 0}
      .badge{font-size:12px;font-weight:500;background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:1px 8px;vertical-align:middle}
      .query{margin-top:8px}
      .qa{display:grid;grid-template-columns:1fr 1fr;gap:16px}
      .qa .text{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:8px 10px;max-height:16em;overflow:auto}
      .completion .text{border-left:3px solid var(--pos)}
      .charts{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
      .chart{margin:0}
      figcaption{font-size:12px;color:var(--muted)}
      svg text{font:11px system-ui,"DejaVu Sans",sans-serif;fill:var(--ink)}
      svg .tick{fill:var(--muted)}
      svg .axis,svg .zero{stroke:#8c959f;stroke-width:1}
      svg .zero{stroke-dasharray:3 3}
      svg .bar.p{fill:var(--pos)}svg .bar.n{fill:var(--neg)}svg .bar.m{fill:#8c959f}svg .bar.s{fill:#57606a}
      svg .marker{stroke-width:1.5;stroke-dasharray:4 2}
      svg .marker.top{stroke:#0b3d73}svg .marker.bottom{stroke:#6b0d18}svg .marker.flag{stroke:#bf5b00}
      svg .marker-label.top{fill:#0b3d73}svg .marker-label.bottom{fill:#6b0d18}svg .marker-label.flag{fill:#bf5b00}
      svg .bar-value{fill:var(--muted);font-variant-numeric:tabular-nums}
      .seqs{margin-top:8px}
      .seq{border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
      .seqs.top .seq{border-left:4px solid var(--pos)}.seqs.bottom .seq{border-left:4px solid var(--neg)}
      .seq-head{display:flex;gap:12px;align-items:baseline;flex-wrap:wrap;margin-bottom:6px}
      .rank{font-weight:700}
      .score{font-weight:600;font-variant-numeric:tabular-nums}.score.pos{color:var(--pos)}.score.neg{color:var(--neg)}
      .meta{color:var(--muted);font-size:12px}
      .tokens{white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.75}
      .tokens>span{border-radius:2px;padding:1px 0;box-shadow:inset -1px 0 rgba(255,255,255,.85)}
      .shade>label{margin-right:12px;cursor:pointer}.shade>input:checked+label{font-weight:700}.pick{color:var(--muted)}
      .pick-note{margin:2px 0;color:var(--muted);font-size:12px}.seq-head .by{padding:0 4px}
      .side{width:100%;table-layout:fixed}.side th:first-child,.side td:first-child{width:2.5em}
      .side .score{display:block}.side .cell.shared{background:#fff8c5}.side .snippet{color:var(--muted);font-size:12px;max-height:3em;overflow:hidden}
      .agree{font-size:11px;font-weight:600;background:#bf8700;color:#fff;border-radius:8px;padding:0 6px;white-space:nowrap}
      .agreement{margin:4px 0 8px}.overlap{font-weight:700}
      details.method{border:1px solid var(--line);border-radius:6px;padding:0 12px;margin:8px 0}
      .wide{overflow-x:auto}.parts td,.parts th{padding:2px 8px}.parts tr.score-line td{font-weight:700}
      .empty-tok{color:var(--muted)}
      .empty{color:var(--muted);font-style:italic}
      .players td .snippet{max-height:7.5em;overflow:auto;max-width:560px}
      .self td .snippet{max-height:7.5em;overflow:auto;max-width:560px}
      tr.flagged td{background:#fff4e5}
      .flag{color:#bf5b00;font-weight:700;white-space:nowrap}
      footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
      @media (max-width:900px){.qa{grid-template-columns:1fr}}
      """;
}
