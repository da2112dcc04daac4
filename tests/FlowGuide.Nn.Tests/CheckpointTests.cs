using FlowGuide.Nn;
using FlowGuide.Nn.Optim;
using FlowGuide.Tensors;

namespace FlowGuide.Nn.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A small MLP trained on noisy data with minibatches drawn by one RNG and noise by another, dropout by a third.</summary>
    private sealed class Run
    {
        public readonly Linear L1, L2;
        public readonly Mlp Model;
        public readonly AdamW Opt;
        public readonly Ema Ema;
        public Rng Data = new(11), Noise = new(12), DropRng = new(13);
        private readonly Tensor _x, _y;

        public sealed class Mlp : Module
        {
            public Mlp(Rng rng, Rng drop)
            {
                L1 = Child("fc1", new Linear(4, 16, true, rng));
                Drop = Child("drop", new Dropout(0.1f, drop));
                L2 = Child("fc2", new Linear(16, 1, true, rng));
            }

            public Linear L1 { get; }
            public Dropout Drop { get; }
            public Linear L2 { get; }

            public Tensor Forward(Tensor x) => L2.Forward(Drop.Forward(Ops.Silu(L1.Forward(x))));
        }

        public Run(ulong initSeed)
        {
            Model = new Mlp(new Rng(initSeed), DropRng);
            L1 = Model.L1; L2 = Model.L2;
            Opt = new AdamW(Model.NamedParameters(), 1e-2f);
            Ema = new Ema(Model, 0.9f);
            var r = new Rng(1);
            _x = Tensor.Randn(r, 64, 4);
            _y = Tensor.Randn(r, 64, 1);
        }

        public void Train(int steps)
        {
            for (int s = 0; s < steps; s++)
            {
                var idx = Data.Permutation(64).Take(16).ToArray();
                var xb = Ops.IndexSelect(_x, 0, idx) + Tensor.Randn(Noise, 16, 4) * 0.01f;
                var yb = Ops.IndexSelect(_y, 0, idx);
                Opt.ZeroGrad();
                Ops.Mean(Ops.Square(Model.Forward(xb) - yb)).Backward();
                GradClip.ClipGradNorm(Model.Parameters(), 1.0);
                Opt.LearningRate = LrSchedule.WarmupCosine(Opt.StepCount + 1, 1e-2f, 3, 40);
                Opt.Step();
                Ema.Update();
            }
        }

        public TrainingCheckpoint Record() => new()
        {
            Step = Opt.StepCount,
            RngStates = new Dictionary<string, RngState> { ["data"] = Data.State, ["noise"] = Noise.State, ["dropout"] = DropRng.State },
            Extra = new Dictionary<string, string> { ["note"] = "test" },
        };
    }

    [Fact]
    public void ResumedTrainingIsBitIdenticalToAnUninterruptedRun()
    {
        var straight = new Run(5);
        straight.Train(20);

        var first = new Run(5);
        first.Train(10);
        first.Record().Save(_dir, first.Model, first.Opt, first.Ema);

        var resumed = new Run(777); // different init and fresh RNGs: everything must come from disk
        var rec = TrainingCheckpoint.Load(_dir, resumed.Model, resumed.Opt, resumed.Ema);
        Assert.Equal(10, rec.Step);
        Assert.Equal("test", rec.Extra["note"]);
        resumed.Data.State = rec.RngStates["data"];
        resumed.Noise.State = rec.RngStates["noise"];
        resumed.DropRng.State = rec.RngStates["dropout"];
        resumed.Train(10);

        foreach (var (k, p) in straight.Model.NamedParameters())
            Assert.Equal(p.ToArray(), resumed.Model.StateDict()[k].ToArray());
        foreach (var (k, p) in straight.Ema.StateDict())
            Assert.Equal(p.ToArray(), resumed.Ema.StateDict()[k].ToArray());
    }

    [Fact]
    public void SavingOverAnExistingCheckpointReplacesItWhole()
    {
        var run = new Run(5);
        run.Record().Save(_dir, run.Model, run.Opt);
        run.Train(2);
        run.Record().Save(_dir, run.Model, run.Opt);
        Assert.True(TrainingCheckpoint.Exists(_dir));
        Assert.DoesNotContain(Directory.GetDirectories(Path.GetDirectoryName(_dir)!), d => Path.GetFileName(d).StartsWith(Path.GetFileName(_dir) + ".", StringComparison.Ordinal));
        var fresh = new Run(9);
        Assert.Equal(2, TrainingCheckpoint.Load(_dir, fresh.Model, fresh.Opt).Step);
    }

    [Fact]
    public void WrongOptimizerTypeIsNamed()
    {
        var run = new Run(5);
        run.Record().Save(_dir, run.Model, run.Opt);
        var other = new Run(5);
        var sgd = new Sgd(other.Model.NamedParameters(), 0.1f);
        var ex = Assert.Throws<ArgumentException>(() => TrainingCheckpoint.Load(_dir, other.Model, sgd));
        Assert.Contains("AdamW", ex.Message);
    }

    [Fact]
    public void ModuleSafeTensorsRoundTripAndStrictMismatchNamesTheFile()
    {
        Directory.CreateDirectory(_dir);
        var path = Path.Combine(_dir, "w.safetensors");
        var a = new Run(1).Model;
        a.SaveSafeTensors(path, FlowGuide.Tensors.DType.BF16);
        var b = new Run(2).Model;
        b.LoadSafeTensors(path);
        foreach (var (k, p) in a.NamedParameters())
        {
            var got = b.StateDict()[k].ToArray(); var want = p.ToArray();
            for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(got[i] - want[i]) <= Math.Abs(want[i]) * 1e-2f + 1e-6f);
        }
        var small = new Linear(3, 3, true, new Rng(0));
        var ex = Assert.Throws<StateDictMismatchException>(() => small.LoadSafeTensors(path));
        Assert.Contains("fc1.weight", ex.Message);
        Assert.Contains("missing", ex.Message);
    }
}
