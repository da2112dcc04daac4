using FlowGuide.Training.Experiments;

namespace FlowGuide.Training.Tests;

/// <summary>The FlowLoss experiment end to end on tiny configs: the plan, the runs, the summary and figures, resuming and skipping.</summary>
public sealed class FlowLossExperimentTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-flexp-" + Guid.NewGuid().ToString("N")[..8]);

    public FlowLossExperimentTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private FlowLossExperimentOptions Options(string vae, long steps = 3) => new()
    {
        Base = FlowLossTrainerTests.Dit(Path.Combine(_dir, "exp"), steps, vae) with { ValidateEvery = 2, CheckpointEvery = 1 },
        Psis = new[] { 0.5, 3.0 },
        Seeds = new ulong[] { 4 },
        FlowLoss = new FlowLossOptions { Scale = 1e-3, Estimator = FlowLossTests.TinyEstimator },
        Validation = FlowLossTrainerTests.TinyValidation,
    };

    [Fact]
    public void PlanCoversEveryVariantPsiAndSeed()
    {
        var o = Options("vae") with { Seeds = new ulong[] { 0, 1 } };
        var plan = FlowLossExperiment.Plan(o);
        Assert.Equal(new[] { "recon", "gate-psi0.5", "gate-psi3", "avg-ss", "avg-ls" }, plan.Take(5).Select(r => r.Name));
        Assert.Equal(10, plan.Count);
        Assert.Equal(10, plan.Select(r => r.Directory).Distinct().Count());
        var gate = FlowLossExperiment.RunOptions(o, plan[2]);
        Assert.Equal(FlowLossWeighting.HardGate, gate.FlowLoss!.Weighting);
        Assert.Equal(3.0, gate.FlowLoss.Psi);
        Assert.Equal(1e-3, gate.FlowLoss.Scale);
        Assert.Null(FlowLossExperiment.RunOptions(o, plan[0]).FlowLoss);
        Assert.Equal(FlowLossWeighting.LargeSigma, FlowLossExperiment.RunOptions(o, plan[4]).FlowLoss!.Weighting);
        Assert.Equal(1UL, FlowLossExperiment.RunOptions(o, plan[5]).Seed);
        Assert.All(plan, r => Assert.Equal(Path.Combine(_dir, "exp", "latents"), FlowLossExperiment.RunOptions(o, r).LatentCacheDirectory));
    }

    [Fact]
    public void RunsResumesSkipsAndSummarises()
    {
        var vae = FlowLossTrainerTests.RandomVae(_dir);
        var o = Options(vae);
        var plan = FlowLossExperiment.Plan(o);
        // an interrupted run: one step done before the experiment starts
        var first = FlowLossExperiment.RunOptions(o, plan[1]) with { StopAfterSteps = 1 };
        DitTrainer.Train(first);

        var log = new StringWriter();
        var summary = FlowLossExperiment.Run(o, log);
        Assert.Contains("gate-psi0.5 seed 4 (resuming)", log.ToString());
        foreach (var run in plan)
        {
            Assert.True(FlowLossExperiment.IsFinished(o, run), run.Name);
            var rows = TrainingCsvLog.Read(Path.Combine(run.Directory, DitTrainer.CsvLogFile));
            Assert.Equal(new double[] { 1, 2, 3 }, rows.Select(r => r["step"]));
            Assert.True(rows[1].ContainsKey("val_pred_epe") && rows[2].ContainsKey("val_sample_epe"), run.Name);
        }
        // same initialisation, data and noise: the first step's flow-matching loss is the same in every run
        var fm1 = plan.Select(r => TrainingCsvLog.Read(Path.Combine(r.Directory, DitTrainer.CsvLogFile))[0]["fm_loss"]).ToArray();
        Assert.All(fm1, v => Assert.Equal(fm1[0], v, 5));
        // the weighted averages compute flow for every sample, the baseline for none
        Assert.All(TrainingCsvLog.Read(Path.Combine(plan[3].Directory, DitTrainer.CsvLogFile)), r => Assert.Equal(2, r["flow_samples"]));
        Assert.All(TrainingCsvLog.Read(Path.Combine(plan[0].Directory, DitTrainer.CsvLogFile)), r => Assert.Equal(0, r["flow_samples"]));

        var md = File.ReadAllText(summary);
        foreach (var name in plan.Select(r => r.Name)) Assert.Contains($"| {name} |", md);
        Assert.Contains("Cost per training step", md);
        Assert.Contains("learned no motion", md);
        foreach (var f in FlowLossExperiment.FigureFiles)
        {
            var svg = File.ReadAllText(Path.Combine(_dir, "exp", f));
            Assert.StartsWith("<svg", svg);
            Assert.Contains("</svg>", svg);
            Assert.DoesNotContain("NaN", svg);
        }
        Assert.Contains("polyline", File.ReadAllText(Path.Combine(_dir, "exp", "pred_epe.svg")));

        // a second call trains nothing
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(plan[0].Directory, DitTrainer.CsvLogFile));
        var again = new StringWriter();
        FlowLossExperiment.Run(o, again);
        Assert.Equal(plan.Count, again.ToString().Split('\n').Count(l => l.Contains("already finished", StringComparison.Ordinal)));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(plan[0].Directory, DitTrainer.CsvLogFile)));

        // other shared settings in the same folder are refused
        var ex = Assert.Throws<ArgumentException>(() => FlowLossExperiment.Run(Options(vae, steps: 5)));
        Assert.Contains("steps=", ex.Message);
    }

    [Fact]
    public void InitStartsEveryRunFromTheModelFolderAndIsPartOfTheSettings()
    {
        var vae = FlowLossTrainerTests.RandomVae(_dir);
        var pre = Options(vae).Base with { OutputDirectory = Path.Combine(_dir, "pre"), Steps = 2 };
        DitTrainer.Train(pre);
        var init = Path.Combine(_dir, "pre", DitTrainer.ExportFolder);
        var o = Options(vae, steps: 1) with { Variants = new[] { FlowLossVariant.Reconstruction } };
        var withInit = o with { Base = o.Base with { InitDirectory = init } };
        FlowLossExperiment.Run(withInit);
        var run = FlowLossExperiment.Plan(withInit)[0];
        Assert.Equal(init, FlowLossExperiment.RunOptions(withInit, run).InitDirectory);
        double First(string dir) => TrainingCsvLog.Read(Path.Combine(dir, DitTrainer.CsvLogFile))[0]["fm_loss"];
        // the same step trained directly from the folder, and from the seed's random weights
        DitTrainer.Train(FlowLossExperiment.RunOptions(withInit, run) with { OutputDirectory = Path.Combine(_dir, "direct"), Resume = false });
        Assert.Equal(First(Path.Combine(_dir, "direct")), First(run.Directory));
        DitTrainer.Train(FlowLossExperiment.RunOptions(o, run) with { OutputDirectory = Path.Combine(_dir, "random"), Resume = false });
        Assert.NotEqual(First(Path.Combine(_dir, "random")), First(run.Directory));
        Assert.Contains("init=", File.ReadAllText(Path.Combine(_dir, "exp", FlowLossExperiment.SettingsFile)));
        // the folder was started from the model: continuing it from random weights is refused, naming the line
        var ex = Assert.Throws<ArgumentException>(() => FlowLossExperiment.Run(o));
        Assert.Contains("init=", ex.Message);
        Assert.Contains("(none)", ex.Message);
    }

    [Fact]
    public void SvgTicksAreNice()
    {
        Assert.Equal(new double[] { 0, 0.2, 0.4, 0.6, 0.8, 1.0 }, SvgPlot.Ticks(0.03, 0.97));
        Assert.Equal(new double[] { 0, 500, 1000, 1500, 2000 }, SvgPlot.Ticks(1, 2000));
        var svg = SvgPlot.Lines("t", "x", "y", new[] { new PlotSeries("a<b", new[] { (1.0, 2.0), (2.0, double.NaN), (3.0, 1.0) }) });
        Assert.Contains("a&lt;b", svg);
        Assert.DoesNotContain("NaN", svg);
    }
}
