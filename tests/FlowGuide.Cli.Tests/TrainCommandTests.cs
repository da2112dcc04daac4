namespace FlowGuide.Cli.Tests;

public sealed class TrainCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] argv)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        return (Cli.Run(argv, o, e), o.ToString(), e.ToString());
    }

    [Fact]
    public void TrainVaeRunsStopsAndRefusesToOverwrite()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fg-tv-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            string[] common = { "train", "vae", "--out", dir, "--steps", "3", "--warmup", "1", "--frames", "5", "--height", "16", "--width", "16",
                "--base-dim", "8", "--val-clips", "1", "--stats-clips", "1" };
            var r = Run(common.Concat(new[] { "--stop-after", "1" }).ToArray());
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("stopped early", r.Out);
            var again = Run(common);
            Assert.Equal(1, again.Code);
            Assert.Contains("--resume", again.Err);
            r = Run(common.Append("--resume").ToArray());
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("resumed from step 1", r.Out);
            Assert.True(File.Exists(Path.Combine(dir, "vae", "config.json")));
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    [Fact]
    public void TrainDitNeedsVaeAndOut()
    {
        Assert.Equal(2, Run("train", "dit", "--out", "x").Code);
        Assert.Equal(2, Run("train", "vae").Code);
    }
}
