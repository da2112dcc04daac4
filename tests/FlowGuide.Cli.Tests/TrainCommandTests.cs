namespace FlowGuide.Cli.Tests;

public sealed class TrainCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

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
    public void TrainVaeLayoutOptionsReachTheExportedConfig()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fg-tvl-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var r = Run("train", "vae", "--out", dir, "--steps", "1", "--warmup", "1", "--frames", "3", "--height", "16", "--width", "16",
                "--temporal-factor", "1", "--z-dim", "3", "--channels", "8,12", "--res-blocks", "0", "--val-clips", "1", "--stats-clips", "1");
            Assert.True(r.Code == 0, r.Err);
            var config = FlowGuide.Models.Video.CompactVaeConfig.FromJson(File.ReadAllText(Path.Combine(dir, "vae", "config.json")));
            Assert.Equal(1, config.TemporalFactor);
            Assert.Equal(3, config.ZDim);
            Assert.Equal(new[] { 8, 12 }, config.Channels);
            Assert.Equal(0, config.NumResBlocks);
            Assert.Equal(3, config.LatentsMean.Length);
            Assert.Equal(2, config.SpatialFactor);
        }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }

    [Fact]
    public void TrainDitExportCheckpointWritesAModelFolderOfTheLatestCheckpoint()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fg-tdx-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var r = Run("train", "vae", "--out", Path.Combine(dir, "v"), "--steps", "1", "--warmup", "1", "--frames", "5", "--height", "16",
                "--width", "16", "--base-dim", "8", "--val-clips", "1", "--stats-clips", "1");
            Assert.True(r.Code == 0, r.Err);
            string[] dit = { "train", "dit", "--vae", Path.Combine(dir, "v", "vae"), "--out", Path.Combine(dir, "d"), "--steps", "3", "--warmup", "1",
                "--frames", "5", "--height", "16", "--width", "16", "--layers", "1", "--batch", "1", "--train-clips", "2", "--val-clips", "1" };
            var none = Run(dit.Append("--export-checkpoint").ToArray());
            Assert.Equal(1, none.Code);
            Assert.Contains("holds no checkpoint", none.Err);
            r = Run(dit.Concat(new[] { "--stop-after", "1" }).ToArray());
            Assert.True(r.Code == 0, r.Err);
            r = Run(dit.Append("--export-checkpoint").ToArray());
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("step 1", r.Out);
            Assert.NotNull(FlowGuide.Sampling.ShippedModel.Load(Path.Combine(dir, "d", "model-step1")));
            Assert.False(Directory.Exists(Path.Combine(dir, "d", "model")));   // the run itself is not finished
            // the training t's logit-normal: a scale of 0 is refused in one line, before anything is written
            var fresh = dit.Select(x => x == Path.Combine(dir, "d") ? Path.Combine(dir, "t") : x);
            var bad = Run(fresh.Concat(new[] { "--t-mean", "1", "--t-std", "0" }).ToArray());
            Assert.NotEqual(0, bad.Code);
            Assert.Contains("positive finite std", bad.Err);
            Assert.Single(bad.Err.Trim().Split('\n'));
            Assert.False(Directory.Exists(Path.Combine(dir, "t", "checkpoint")));
            // a run with a position embedding may start from the model without one
            var pe = dit.Select(x => x == Path.Combine(dir, "d") ? Path.Combine(dir, "p") : x)
                .Concat(new[] { "--position-frequencies", "2", "--init", Path.Combine(dir, "d", "model-step1") }).ToArray();
            r = Run(pe);
            Assert.True(r.Code == 0, r.Err);
            Assert.Contains("no position embedding", r.Out);
            Assert.Equal(2, FlowGuide.Sampling.ShippedModel.Load(Path.Combine(dir, "p", "model")).Transformer.Config.PositionFrequencies);
            var negative = Run(fresh.Concat(new[] { "--position-frequencies", "-1" }).ToArray());
            Assert.NotEqual(0, negative.Code);
            Assert.Contains("flowguide_position_frequencies", negative.Err);
            Assert.Single(negative.Err.Trim().Split('\n'));
            var weight = Run(fresh.Concat(new[] { "--temporal-weight", "-1" }).ToArray());
            Assert.NotEqual(0, weight.Code);
            Assert.Contains("temporal weight", weight.Err);
            Assert.Single(weight.Err.Trim().Split('\n'));
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
