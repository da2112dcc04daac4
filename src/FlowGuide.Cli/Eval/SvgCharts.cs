using System.Globalization;
using System.Net;
using System.Text;

namespace FlowGuide.Cli.Eval;

/// <summary>
/// Small inline SVG charts for the report (no scripts, no external resources): per-method bars with 95% interval
/// whiskers, and a cost-against-gain scatter. Coordinates are written with invariant culture.
/// </summary>
public static class SvgCharts
{
    /// <summary>Method colours, cycled.</summary>
    public static readonly string[] Colours = { "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c" };

    private const int Width = 320, Height = 190, Left = 58, Right = 12, Top = 24, Bottom = 36;

    /// <summary>
    /// Bars of each method's mean with its interval as a whisker. The value axis starts at 0 when the data lie between 0
    /// and twice their spread above it, else just below the smallest interval end (the axis labels say where it starts).
    /// </summary>
    public static string Bars(string title, IReadOnlyList<(string Name, MeanInterval Value)> items)
    {
        var sb = Begin(title);
        var finite = items.Where(i => double.IsFinite(i.Value.Mean)).ToList();
        if (finite.Count == 0) return End(sb.Append(Text(Width / 2.0, Height / 2.0, "no values", "middle")));
        double lo = finite.Min(i => Lowest(i.Value)), hi = finite.Max(i => Highest(i.Value));
        if (lo >= 0 && lo <= 2 * (hi - lo)) lo = 0;
        (lo, hi) = Pad(lo, hi);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double Y(double v) => Top + plotH * (hi - v) / (hi - lo);
        Axis(sb, lo, hi, Y);
        double slot = plotW / items.Count, bar = Math.Min(40, slot * 0.6);
        for (int k = 0; k < items.Count; k++)
        {
            var (name, v) = items[k];
            double cx = Left + slot * (k + 0.5);
            string colour = Colours[k % Colours.Length];
            if (double.IsFinite(v.Mean))
            {
                double baseline = lo > 0 ? lo : hi < 0 ? hi : 0; // bars grow from 0, or from the axis end nearest it
                double y0 = Y(baseline), y1 = Y(v.Mean);
                sb.Append(Rect(cx - bar / 2, Math.Min(y0, y1), bar, Math.Abs(y1 - y0), colour));
                if (double.IsFinite(v.Low)) Whisker(sb, cx, Y(v.Low), Y(v.High), vertical: true);
            }
            sb.Append(Text(cx, Height - Bottom + 14, name, "middle"));
        }
        return End(sb);
    }

    /// <summary>
    /// Each method as a point at (time ratio against the base, paired difference of a metric against the base), both
    /// with interval whiskers; the base sits at (1, 0). Points up (or down, for lower-is-better metrics) are gains.
    /// </summary>
    public static string CostGain(string title, IReadOnlyList<(string Name, MeanInterval TimeRatio, MeanInterval Difference, int ColourIndex)> points)
    {
        var sb = Begin(title);
        var finite = points.Where(p => double.IsFinite(p.TimeRatio.Mean) && double.IsFinite(p.Difference.Mean)).ToList();
        if (finite.Count == 0) return End(sb.Append(Text(Width / 2.0, Height / 2.0, "no pairs", "middle")));
        double xlo = Math.Min(1, finite.Min(p => Lowest(p.TimeRatio))), xhi = Math.Max(1, finite.Max(p => Highest(p.TimeRatio)));
        double ylo = Math.Min(0, finite.Min(p => Lowest(p.Difference))), yhi = Math.Max(0, finite.Max(p => Highest(p.Difference)));
        (xlo, xhi) = Pad(xlo, xhi);
        (ylo, yhi) = Pad(ylo, yhi);
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double X(double v) => Left + plotW * (v - xlo) / (xhi - xlo);
        double Y(double v) => Top + plotH * (yhi - v) / (yhi - ylo);
        Axis(sb, ylo, yhi, Y);
        sb.Append(Line(Left, Y(0), Width - Right, Y(0), "#999", dashed: true));
        sb.Append(Line(X(1), Top, X(1), Height - Bottom, "#999", dashed: true));
        foreach (double v in new[] { xlo, 1.0, xhi }.Distinct())
            sb.Append(Text(X(v), Height - Bottom + 14, Format(v) + "x", "middle"));
        sb.Append(Text(Left + plotW / 2, Height - 4, "time ratio against base", "middle"));
        foreach (var (name, t, d, colour) in finite)
        {
            double cx = X(t.Mean), cy = Y(d.Mean);
            if (double.IsFinite(d.Low)) Whisker(sb, cx, Y(d.Low), Y(d.High), vertical: true);
            if (double.IsFinite(t.Low)) Whisker(sb, cy, X(t.Low), X(t.High), vertical: false);
            sb.Append(Invariant($"<circle cx=\"{cx:F1}\" cy=\"{cy:F1}\" r=\"4.5\" fill=\"{Colours[colour % Colours.Length]}\"/>"));
            sb.Append(Text(cx + 7, cy - 6, name, "start"));
        }
        return End(sb);
    }

    private static double Lowest(MeanInterval v) => double.IsFinite(v.Low) ? v.Low : v.Mean;

    private static double Highest(MeanInterval v) => double.IsFinite(v.High) ? v.High : v.Mean;

    private static (double Lo, double Hi) Pad(double lo, double hi)
    {
        double span = hi - lo;
        if (!(span > 1e-12)) span = Math.Max(Math.Abs(hi), 1e-3);
        return (lo == 0 ? 0 : lo - 0.08 * span, hi + 0.08 * span);
    }

    private static StringBuilder Begin(string title)
    {
        var sb = new StringBuilder();
        sb.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" role=\"img\">"));
        sb.Append("<title>").Append(WebUtility.HtmlEncode(title)).Append("</title>");
        sb.Append(Invariant($"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{Height}\" fill=\"#fff\"/>"));
        sb.Append(Text(Width / 2.0, 15, title, "middle", bold: true));
        return sb;
    }

    private static string End(StringBuilder sb) => sb.Append("</svg>").ToString();

    private static void Axis(StringBuilder sb, double lo, double hi, Func<double, double> y)
    {
        sb.Append(Line(Left, Top, Left, Height - Bottom, "#333"));
        sb.Append(Line(Left, Height - Bottom, Width - Right, Height - Bottom, "#333"));
        foreach (double v in new[] { lo, (lo + hi) / 2, hi })
        {
            sb.Append(Line(Left - 3, y(v), Left, y(v), "#333"));
            sb.Append(Text(Left - 5, y(v) + 4, Format(v), "end"));
        }
    }

    private static void Whisker(StringBuilder sb, double at, double from, double to, bool vertical)
    {
        if (vertical)
        {
            sb.Append(Line(at, from, at, to, "#222"));
            sb.Append(Line(at - 5, from, at + 5, from, "#222"));
            sb.Append(Line(at - 5, to, at + 5, to, "#222"));
        }
        else
        {
            sb.Append(Line(from, at, to, at, "#222"));
            sb.Append(Line(from, at - 5, from, at + 5, "#222"));
            sb.Append(Line(to, at - 5, to, at + 5, "#222"));
        }
    }

    private static string Rect(double x, double y, double w, double h, string fill) =>
        Invariant($"<rect x=\"{x:F1}\" y=\"{y:F1}\" width=\"{w:F1}\" height=\"{Math.Max(h, 0.5):F1}\" fill=\"{fill}\"/>");

    private static string Line(double x1, double y1, double x2, double y2, string stroke, bool dashed = false) =>
        Invariant($"<line x1=\"{x1:F1}\" y1=\"{y1:F1}\" x2=\"{x2:F1}\" y2=\"{y2:F1}\" stroke=\"{stroke}\" stroke-width=\"1\"{(dashed ? " stroke-dasharray=\"4 3\"" : "")}/>");

    private static string Text(double x, double y, string text, string anchor, bool bold = false) =>
        Invariant($"<text x=\"{x:F1}\" y=\"{y:F1}\" font-size=\"11\" font-family=\"sans-serif\" text-anchor=\"{anchor}\"{(bold ? " font-weight=\"bold\"" : "")}>") +
        WebUtility.HtmlEncode(text) + "</text>";

    /// <summary>A number with about four significant digits, invariant culture.</summary>
    public static string Format(double v) => v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 1 ? "0.###" : "0.####", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
