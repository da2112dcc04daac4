using System.Diagnostics;
using System.Text.RegularExpressions;
using FlowGuide.Cli.Eval;
using FlowGuide.Media;
using Xunit.Abstractions;

namespace FlowGuide.Cli.Tests;

/// <summary>Finds a Chromium (or Chrome) executable on PATH and runs it headless.</summary>
internal static class Chromium
{
    public static string? Executable { get; } = Find();

    private static string? Find()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" })
            foreach (var dir in dirs)
            {
                var p = Path.Combine(dir, name);
                if (File.Exists(p)) return p;
            }
        return null;
    }

    /// <summary>
    /// Runs the browser headless on a file URL with console messages logged to stderr (Chromium writes each as a line
    /// containing ":CONSOLE"), in a throw-away profile; kills it after <paramref name="timeoutSeconds"/>.
    /// </summary>
    public static (int Code, string Out, string Err) Run(string profile, int timeoutSeconds, params string[] args)
    {
        var psi = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("chromium is not on PATH"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
                     "--enable-logging=stderr", "--v=0", $"--user-data-dir={profile}" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium did not finish within {timeoutSeconds} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A fact that is skipped, with the reason, when no Chromium is on PATH.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.Executable is null)
            Skip = "no chromium on PATH (Debian: apt-get install chromium); the headless-browser check of report.html needs it";
    }
}

/// <summary>
/// The eval report: a static page whose every resource is a relative file beside it, checked as text, and loaded in a
/// real headless Chromium: the page's own image check reports every image decoded, nothing is logged to the console,
/// the screenshot is not blank, and a deleted GIF is caught.
/// </summary>
public sealed class ReportTests : IDisposable
{
    private readonly ITestOutputHelper _output;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-report-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _run;

    public ReportTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_dir);
        var model = TinyModel.Create(Path.Combine(_dir, "model"));
        var prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(prompts, string.Join("\n", EvalCommandTests.Prompts) + "\n");
        _run = Path.Combine(_dir, "run with space");
        var r = EvalCommandTests.Run(null, default, "eval", "--methods", "base,flowmo", "--prompts", prompts, "--seeds", "0..1",
            "--out", _run, "--model", model, "--frames", "13", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.67");
        Assert.True(r.Code == 0, r.Err);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Html => File.ReadAllText(Path.Combine(_run, ReportWriter.FileName));

    private static readonly Regex Reference = new("(?:src|href)=\"([^\"]*)\"", RegexOptions.Compiled);

    [Fact]
    public void EveryReferenceIsALocalFileOrAnchor()
    {
        var html = Html;
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("<script src", html);
        Assert.DoesNotContain("url(", html);
        var refs = Reference.Matches(html).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2 * 8, refs.Count(r => !r.StartsWith('#'))); // a GIF and a flow sheet per video
        foreach (var r in refs)
        {
            if (r.StartsWith('#')) { Assert.Contains($"id=\"{r[1..]}\"", html); continue; }
            Assert.DoesNotContain(":", r); // no scheme: nothing is fetched from elsewhere
            Assert.True(File.Exists(Path.Combine(_run, Uri.UnescapeDataString(r))), $"{r} does not exist");
        }
        var sheet = ImageIO.Read(Path.Combine(_run, EvalResults.Load(_run)[0].Flow));
        Assert.Equal((16 * 4 + 3, 16 * 3 + 2), (sheet.Width, sheet.Height)); // 12 pairs in rows of 4
        var shown = ReportWriter.Shown(EvalResults.Load(_run));
        Assert.DoesNotContain(shown, m => m.Key == "motion_fidelity"); // no method here follows a reference
        Assert.Equal(2 * shown.Count, Regex.Matches(html, "<svg ").Count); // bars + scatter per metric
    }

    [ChromiumFact]
    public void LoadsInHeadlessChromiumWithEveryImageAndNoConsoleErrors()
    {
        string url = new Uri(Path.Combine(_run, ReportWriter.FileName)).AbsoluteUri;
        var clock = Stopwatch.StartNew();

        // 1. the DOM after load: the page's own check found every image decoded, and nothing was logged
        var dom = Chromium.Run(Path.Combine(_dir, "profile1"), 60, "--virtual-time-budget=5000", "--dump-dom", url);
        Assert.True(dom.Code == 0, dom.Err);
        var consoleLines = dom.Err.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
        Assert.True(consoleLines.Count == 0, string.Join("\n", consoleLines));
        Assert.Contains("data-images=\"16/16\"", dom.Out);
        Assert.Contains("hidden=\"\"", dom.Out[dom.Out.IndexOf("id=\"image-check\"", StringComparison.Ordinal)..][..80]);

        // 2. a screenshot that is not blank: many colours, and the GIFs' and charts' pixels vary
        var png = Path.Combine(_dir, "shot.png");
        var shot = Chromium.Run(Path.Combine(_dir, "profile2"), 60, "--virtual-time-budget=5000", "--hide-scrollbars",
            "--window-size=1280,2400", $"--screenshot={png}", url);
        Assert.True(shot.Code == 0 && File.Exists(png), shot.Err);
        var image = ImageIO.Read(png);
        var px = image.Pixels;
        var colours = new HashSet<int>();
        double sum = 0, sum2 = 0;
        int n = px.Length / 3;
        for (int i = 0; i < n; i++)
        {
            colours.Add(px[3 * i] << 16 | px[3 * i + 1] << 8 | px[3 * i + 2]);
            double l = 0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2];
            sum += l; sum2 += l * l;
        }
        double sd = Math.Sqrt(Math.Max(sum2 / n - (sum / n) * (sum / n), 0));
        _output.WriteLine($"screenshot {image.Width}x{image.Height}: {colours.Count} colours, luminance sd {sd:F1}; chromium took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal((1280, 2400), (image.Width, image.Height));
        Assert.True(colours.Count > 200, $"{colours.Count} colours");
        Assert.True(sd > 10, $"luminance sd {sd}");

        // 3. the check can fail: with one GIF gone the page says so and logs one console error
        var gone = EvalResults.Load(_run)[3].Video;
        File.Delete(Path.Combine(_run, gone));
        var broken = Chromium.Run(Path.Combine(_dir, "profile3"), 60, "--virtual-time-budget=5000", "--dump-dom", url);
        Assert.Contains("data-images=\"15/16\"", broken.Out);
        Assert.Contains(broken.Err.Split('\n'), l => l.Contains(":CONSOLE", StringComparison.Ordinal) && l.Contains("did not load", StringComparison.Ordinal));
        _output.WriteLine($"three chromium runs took {clock.Elapsed.TotalSeconds:F1} s");
    }
}
