using System.Globalization;
using System.Net;
using System.Text;

namespace FlowGuide.Training.Experiments;

/// <summary>One line of a <see cref="SvgPlot.Lines"/> chart: a name for the legend and (x, y) points in x order.</summary>
public sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// Minimal self-contained SVG charts for experiment reports (no scripts, no external fonts): line charts with axes,
/// "nice" ticks, grid and legend, and horizontal bar charts. Non-finite points are skipped.
/// </summary>
public static class SvgPlot
{
    private static readonly string[] Palette =
        { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" };

    private const int Width = 720, Height = 420, Left = 70, Right = 190, Top = 40, Bottom = 50;

    /// <summary>A line chart of <paramref name="series"/>; <paramref name="logY"/> plots y on a log10 axis (non-positive values skipped).</summary>
    public static string Lines(string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        var pts = series.SelectMany(s => s.Points).Where(p => Usable(p, logY)).ToList();
        var sb = Begin(title);
        if (pts.Count == 0)
        {
            Text(sb, Left + (Width - Left - Right) / 2.0, Top + (Height - Top - Bottom) / 2.0, "no data", "middle");
            return End(sb);
        }
        double Y(double v) => logY ? Math.Log10(v) : v;
        var (x0, x1) = Range(pts.Select(p => p.X));
        var (y0, y1) = Range(pts.Select(p => Y(p.Y)));
        var xt = Ticks(x0, x1);
        var yt = logY ? LogTicks(y0, y1) : Ticks(y0, y1);
        (x0, x1) = (Math.Min(x0, xt[0]), Math.Max(x1, xt[^1]));
        (y0, y1) = (Math.Min(y0, yt[0]), Math.Max(y1, yt[^1]));
        double Px(double x) => Left + (x - x0) / (x1 - x0) * (Width - Left - Right);
        double Py(double y) => Height - Bottom - (y - y0) / (y1 - y0) * (Height - Top - Bottom);

        // 1. grid, ticks and axis labels
        foreach (var x in xt)
        {
            Line(sb, Px(x), Top, Px(x), Height - Bottom, "#e0e0e0");
            Text(sb, Px(x), Height - Bottom + 16, Fmt(x), "middle");
        }
        foreach (var y in yt)
        {
            Line(sb, Left, Py(y), Width - Right, Py(y), "#e0e0e0");
            Text(sb, Left - 6, Py(y) + 4, logY ? Fmt(Math.Pow(10, y)) : Fmt(y), "end");
        }
        Line(sb, Left, Height - Bottom, Width - Right, Height - Bottom, "#000");
        Line(sb, Left, Top, Left, Height - Bottom, "#000");
        Text(sb, Left + (Width - Left - Right) / 2.0, Height - 12, xLabel, "middle");
        sb.Append(Inv($"<text x=\"16\" y=\"{Top + (Height - Top - Bottom) / 2.0:0.#}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + (Height - Top - Bottom) / 2.0:0.#})\">{Esc(yLabel + (logY ? " (log)" : ""))}</text>\n"));

        // 2. one polyline (and dots) per series, legend on the right
        for (int i = 0; i < series.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            var p = series[i].Points.Where(q => Usable(q, logY)).ToList();
            if (p.Count > 0)
            {
                sb.Append($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\" points=\"");
                sb.Append(string.Join(" ", p.Select(q => Inv($"{Px(q.X):0.##},{Py(Y(q.Y)):0.##}"))));
                sb.Append("\"/>\n");
                if (p.Count <= 60)
                    foreach (var q in p) sb.Append(Inv($"<circle cx=\"{Px(q.X):0.##}\" cy=\"{Py(Y(q.Y)):0.##}\" r=\"2.5\" fill=\"{color}\"/>\n"));
            }
            double ly = Top + 10 + 18 * i;
            Line(sb, Width - Right + 12, ly, Width - Right + 32, ly, color, 2.5);
            Text(sb, Width - Right + 38, ly + 4, series[i].Name, "start");
        }
        return End(sb);
    }

    /// <summary>A horizontal bar chart of (label, value) with the value printed at each bar's end.</summary>
    public static string Bars(string title, string valueLabel, IReadOnlyList<(string Label, double Value)> bars)
    {
        ArgumentNullException.ThrowIfNull(bars);
        const double rowH = 30;
        int height = (int)(Top + 10 + rowH * Math.Max(1, bars.Count) + Bottom);
        var sb = Begin(title, height);
        var usable = bars.Where(b => double.IsFinite(b.Value) && b.Value >= 0).ToList();
        double max = usable.Count == 0 ? 1 : Math.Max(usable.Max(b => b.Value), 1e-12);
        double span = Width - 220 - 90;
        for (int i = 0; i < bars.Count; i++)
        {
            double y = Top + 10 + i * rowH;
            Text(sb, 210, y + rowH * 0.6, bars[i].Label, "end");
            if (!double.IsFinite(bars[i].Value) || bars[i].Value < 0) continue;
            double w = bars[i].Value / max * span;
            sb.Append(Inv($"<rect x=\"220\" y=\"{y:0.##}\" width=\"{w:0.##}\" height=\"{rowH * 0.7:0.##}\" fill=\"{Palette[i % Palette.Length]}\"/>\n"));
            Text(sb, 224 + w, y + rowH * 0.6, Fmt(bars[i].Value), "start");
        }
        Text(sb, 220 + span / 2, height - 16, valueLabel, "middle");
        return End(sb);
    }

    /// <summary>"Nice" tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi], about five of them.</summary>
    public static double[] Ticks(double lo, double hi)
    {
        if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * mag).First(s => s >= raw);
        long first = (long)Math.Floor(lo / step), last = (long)Math.Ceiling(hi / step);
        int digits = Math.Clamp(1 - (int)Math.Floor(Math.Log10(step)), 0, 15);
        var ticks = new List<double>();
        for (long k = first; k <= last; k++) ticks.Add(Math.Round(k * step, digits));
        return ticks.ToArray();
    }

    /// <summary>Ticks for a log10 axis spanning [lo, hi] (in log10 units): nice linear values within a decade, else 1-2-5 per decade.</summary>
    private static double[] LogTicks(double lo, double hi)
    {
        double a = Math.Pow(10, lo), b = Math.Pow(10, hi);
        if (hi - lo < 1)
        {
            var linear = Ticks(a, b).Where(v => v > 0).Select(Math.Log10).ToArray();
            if (linear.Length >= 2) return linear;
        }
        var ticks = new List<double>();
        for (int k = (int)Math.Floor(lo); k <= (int)Math.Ceiling(hi); k++)
            foreach (var m in hi - lo < 3 ? new[] { 1.0, 2, 5 } : new[] { 1.0 })
            {
                double v = Math.Log10(m) + k;
                if (v >= lo - 1e-9 && v <= hi + 1e-9) ticks.Add(v);
            }
        return ticks.Count >= 2 ? ticks.ToArray() : new[] { lo, hi };
    }

    private static bool Usable((double X, double Y) p, bool logY) => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!logY || p.Y > 0);

    private static (double Lo, double Hi) Range(IEnumerable<double> values)
    {
        var v = values.ToList();
        double lo = v.Min(), hi = v.Max();
        return hi > lo ? (lo, hi) : (lo - 0.5 * Math.Max(Math.Abs(lo), 1), hi + 0.5 * Math.Max(Math.Abs(hi), 1));
    }

    private static StringBuilder Begin(string title, int height = Height)
    {
        var sb = new StringBuilder();
        sb.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"sans-serif\">\n"));
        sb.Append(Inv($"<rect width=\"{Width}\" height=\"{height}\" fill=\"#fff\"/>\n"));
        sb.Append(Inv($"<text x=\"{Width / 2}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{Esc(title)}</text>\n"));
        return sb;
    }

    private static string End(StringBuilder sb) => sb.Append("</svg>\n").ToString();

    private static void Line(StringBuilder sb, double x1, double y1, double x2, double y2, string color, double width = 1) =>
        sb.Append(Inv($"<line x1=\"{x1:0.##}\" y1=\"{y1:0.##}\" x2=\"{x2:0.##}\" y2=\"{y2:0.##}\" stroke=\"{color}\" stroke-width=\"{width:0.##}\"/>\n"));

    private static void Text(StringBuilder sb, double x, double y, string text, string anchor) =>
        sb.Append(Inv($"<text x=\"{x:0.##}\" y=\"{y:0.##}\" font-size=\"11\" text-anchor=\"{anchor}\">{Esc(text)}</text>\n"));

    private static string Fmt(double v) =>
        v == 0 ? "0" : Math.Abs(v) >= 1e5 || Math.Abs(v) < 1e-3 ? v.ToString("0.##e0", CultureInfo.InvariantCulture) : v.ToString("0.####", CultureInfo.InvariantCulture);

    private static string Esc(string s) => WebUtility.HtmlEncode(s);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
