using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Tests;

/// <summary><c>experiment flowloss</c> end to end on a tiny model, and the FlowLoss options of <c>train dit</c>.</summary>
public sealed class FlowLossCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-flcli-" + Guid.NewGuid().ToString("N")[..8]);

    public FlowLossCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    private string Vae()
    {
        var path = Path.Combine(_dir, "vae");
        new WanVae(TinyModel.VaeConfig, new Rng(2)).Save(path);
        return path;
    }

    [Fact]
    public void ExperimentRunsResumesAndRewritesTheSummary()
    {
        var outDir = Path.Combine(_dir, "exp");
        string[] argv =
        {
            "experiment", "flowloss", "--vae", Vae(), "--out", outDir, "--steps", "2", "--model", "tiny", "--variants", "recon,gate,ss",
            "--psi", "2", "--frames", "5", "--height", "16", "--width", "16", "--batch", "1", "--val-clips", "1", "--val-flow", "1",
            "--val-sample-steps", "1", "--flow-warps", "1", "--flow-iterations", "2", "--flow-scale", "1e-3", "--warmup", "1",
        };
        var r = Run(argv);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("summary written to", r.Out);
        var md = File.ReadAllText(Path.Combine(outDir, "summary.md"));
        foreach (var name in new[] { "recon", "gate-psi2", "avg-ss" }) Assert.Contains($"| {name} |", md);
        Assert.DoesNotContain("avg-ls", md);
        Assert.Contains("scale=0.001", File.ReadAllText(Path.Combine(outDir, "experiment.txt")));

        var again = Run(argv);
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(3, again.Out.Split('\n').Count(l => l.Contains("already finished", StringComparison.Ordinal)));

        File.Delete(Path.Combine(outDir, "summary.md"));
        var summary = Run(argv.Append("--summary-only").ToArray());
        Assert.True(summary.Code == 0, summary.Err);
        Assert.True(File.Exists(Path.Combine(outDir, "summary.md")));

        var other = Run(argv.Select(a => a == "1e-3" ? "1e-2" : a).ToArray());
        Assert.Equal(1, other.Code);
        Assert.Contains("other settings", other.Err);
    }

    [Theory]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o")]                                    // no --steps
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--seed", "3")]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--resume")]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--variants", "recon,foo")]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--psi", "0.5,x")]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--model", "huge")]
    [InlineData("experiment", "flowloss", "--vae", "v", "--out", "o", "--steps", "2", "--val-flow", "0")]
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--psi", "0.5")]                              // needs --flow-loss
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--flow-loss", "--flow-weighting", "soft")]
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--flow-loss", "--flow-target", "world", "--flow-occlusion", "fb")]
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--flow-loss", "--psi", "-1")]
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--patch", "1,2")]
    [InlineData("train", "dit", "--vae", "v", "--out", "o", "--patch", "1,0,2")]
    [InlineData("train", "vae", "--out", "o", "--channels", "48,x")]
    [InlineData("train", "vae", "--out", "o", "--temporal-factor", "0")]
    [InlineData("train", "vae", "--out", "o", "--z-dim", "0")]
    [InlineData("train", "vae", "--out", "o", "--res-blocks", "-1")]
    public void MistakesAreUsageErrors(params string[] argv)
    {
        var r = Run(argv);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void HelpListsTheOptions()
    {
        var r = Run("help", "experiment", "flowloss");
        Assert.Equal(0, r.Code);
        Assert.Contains("--psi LIST", r.Out);
        var t = Run("help", "train", "dit");
        Assert.Contains("--flow-loss", t.Out);
        Assert.Contains("--flow-target NAME", t.Out);
    }
}
