using FlowGuide.Cli.Eval;
using FlowGuide.Training.World.Analysis;
using FlowGuide.Training.World;

namespace FlowGuide.Cli.Tests;

/// <summary>The shipped prompt file and the command that makes it; the statistics behind the summary.</summary>
public sealed class PromptsAndSummaryTests
{
    private static string ShippedPrompts => Path.Combine(FlowGuide.TestSupport.RepoPaths.RepoRoot, "prompts", "motion-world.txt");

    [Fact]
    public void ShippedPromptFileIsWhatThePromptsCommandWrites()
    {
        var o = new StringWriter();
        Assert.Equal(0, Cli.Run(new[] { "prompts", "--split", "heldout", "--count", "64" }, o, new StringWriter()));
        Assert.Equal(o.ToString(), File.ReadAllText(ShippedPrompts).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ShippedPromptsCoverEveryShapeColourAndMotionAndAreHeldOut()
    {
        var prompts = EvalCommand.ReadPrompts(ShippedPrompts);
        Assert.True(prompts.Count >= 64, $"{prompts.Count} prompts");
        var parsed = prompts.Select(WorldPrompt.Parse).ToList();
        Assert.Equal(Enum.GetValues<ShapeKind>().OrderBy(x => x), parsed.Select(p => p.Subject.Shape).Distinct().OrderBy(x => x));
        Assert.Equal(Palette.ShapeColors.OrderBy(x => x), parsed.Select(p => p.Subject.Color).Distinct().OrderBy(x => x));
        Assert.Equal(Enum.GetValues<MotionClass>().Where(m => m != MotionClass.Still).OrderBy(x => x), parsed.Select(p => p.Motion).Distinct().OrderBy(x => x));
        Assert.Equal(Enum.GetValues<BackgroundKind>().OrderBy(x => x), parsed.Select(p => p.Background).Distinct().OrderBy(x => x));
        Assert.All(parsed, p => Assert.True(MotionWorld.IsHeldOut(p.Subject.Shape, p.Subject.Color, p.Motion), $"{p.Subject} {p.Motion} is not held out"));
        Assert.Equal(MotionWorld.HeldOutCombos.Count, parsed.Select(p => (p.Subject.Shape, p.Subject.Color, p.Motion)).Distinct().Count());
    }

    [Fact]
    public void TestSplitPromptsAlsoCoverPansAndStillShapes()
    {
        var prompts = PromptsCommand.Select(WorldSplit.Test, 40, out _).Select(WorldPrompt.Parse).ToList();
        Assert.Equal(40, prompts.Count);
        Assert.Contains(prompts, p => p.Pan is not null);
        Assert.Contains(prompts, p => p.Pan is null && p.Motion == MotionClass.Still);
        Assert.Equal(16, prompts.Where(p => p.Pan is null).Select(p => p.Motion).Distinct().Count());
        var r = new StringWriter();
        var e = new StringWriter();
        Assert.Equal(1, Cli.Run(new[] { "prompts", "--split", "heldout", "--count", "10" }, r, e));
        Assert.Contains("cannot cover everything", e.ToString());
    }

    [Theory] // values from mpmath (30 digits), rounded
    [InlineData(1, 12.706204736)]
    [InlineData(2, 4.302652730)]
    [InlineData(5, 2.570581836)]
    [InlineData(10, 2.228138852)]
    [InlineData(30, 2.042272456)]
    [InlineData(1000, 1.962339081)]
    public void StudentTQuantilesMatchTables(int df, double expected)
    {
        Assert.Equal(expected, StudentT.Quantile(0.975, df), 6);
        Assert.Equal(-expected, StudentT.Quantile(0.025, df), 6);
        Assert.Equal(0.975, StudentT.Cdf(expected, df), 8);
    }

    [Fact]
    public void MeanIntervalIsTheTInterval()
    {
        var v = MeanInterval.Of(new[] { 1.0, 2, 3, 4, double.NaN });
        Assert.Equal(4, v.N);
        Assert.Equal(2.5, v.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 3), v.Sd, 12);
        double half = 3.182446305 * Math.Sqrt(5.0 / 3) / 2; // t(0.975, 3)
        Assert.Equal(2.5 - half, v.Low, 6);
        Assert.Equal(2.5 + half, v.High, 6);
        Assert.Equal(1, v.SignExcludingZero); // [0.446, 4.554]
        Assert.Equal(0, MeanInterval.Of(new[] { -1.0, 1.0, 0.5 }).SignExcludingZero);
        Assert.Equal(-1, MeanInterval.Of(new[] { -1.0, -1.1, -0.9 }).SignExcludingZero);
        Assert.True(double.IsNaN(MeanInterval.Of(new[] { 1.0 }).Low));
        Assert.Equal(0, MeanInterval.Of(Array.Empty<double>()).N);
    }

    [Fact]
    public void SummaryPairsByPromptAndSeed()
    {
        EvalRow Row(string method, string prompt, ulong seed, double smooth, double seconds) => new()
        {
            Method = method, PromptIndex = 0, Prompt = prompt, Seed = seed, Video = "v", Flow = "f", Seconds = seconds,
            PeakBytes = method == "base" ? 100 : 150, MetricSeconds = 0,
            Metrics = new Dictionary<string, double> { ["motion_smoothness"] = smooth },
        };
        var rows = new[]
        {
            Row("base", "a", 0, 0.90, 1), Row("flowmo", "a", 0, 0.92, 2),
            Row("base", "a", 1, 0.80, 1), Row("flowmo", "a", 1, 0.83, 2),
            Row("base", "b", 0, 0.70, 2), Row("flowmo", "b", 0, 0.74, 3),
            Row("flowmo", "b", 1, 0.99, 3), // no base partner: not paired
        };
        var s = EvalSummary.Compute(rows, new[] { "base", "flowmo" });
        Assert.Equal(new[] { "base", "flowmo" }, s.Methods.Select(m => m.Method));
        Assert.Equal(4, s.Methods[1].Videos);
        var p = Assert.Single(s.Paired);
        Assert.Equal(3, p.Pairs);
        var d = p.Differences["motion_smoothness"];
        Assert.Equal(3, d.N);
        Assert.Equal(0.03, d.Mean, 12);          // (0.02 + 0.03 + 0.04) / 3
        Assert.Equal(0.01, d.Sd, 12);
        Assert.Equal(1, d.SignExcludingZero);
        Assert.Equal((2.0 + 2 + 1.5) / 3, p.TimeRatio.Mean, 12);
        Assert.Equal(1.5, p.PeakRatio.Mean, 12);
        Assert.Equal(0, p.Differences["warping_error"].N); // missing everywhere: NaN skipped
        Assert.Contains("+0.0300 [", s.ToMarkdown());
        Assert.Contains("\"paired_vs_base\"", s.ToJson());
    }
}
