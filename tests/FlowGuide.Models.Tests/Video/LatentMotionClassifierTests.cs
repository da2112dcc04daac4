using FlowGuide.Models.Video;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Video;

public class LatentMotionClassifierTests
{
    private static readonly string[] Classes = { "left", "right", "still" };

    [Fact]
    public void GivesOneLogitPerClassAndDoesNotMixTheBatch()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(1));
        var z = Tensor.Randn(new Rng(2), 3, 2, 3, 5, 4);
        var t = Tensor.FromArray(new[] { 0.1f, 0.5f, 0.9f }, 3);
        var logits = c.Forward(z, t);
        Assert.Equal(new[] { 3, 3 }, logits.Shape.ToArray());
        var alone = c.Forward(Ops.Narrow(z, 0, 1, 1), Tensor.FromArray(new[] { 0.5f }, 1)).ToArray();
        Assert.Equal(logits.ToArray()[3..6], alone, new FloatTolerance(1e-5f));
        // t is an input: the same latent at another noise level scores differently
        var other = c.Forward(Ops.Narrow(z, 0, 1, 1), Tensor.FromArray(new[] { 0.8f }, 1)).ToArray();
        Assert.NotEqual(alone, other);
    }

    [Fact]
    public void AnyFrameCountIsResampledToTheConfiguredTrack()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(1));
        foreach (int f in new[] { 1, 2, 3, 7 })
            Assert.Equal(new[] { 1, 3 }, c.Forward(Tensor.Randn(new Rng(3), 1, 2, f, 4, 4), Tensor.FromArray(new[] { 0.5f }, 1)).Shape.ToArray());
    }

    [Fact]
    public void ResamplingIsTheIdentityOnItsOwnLengthAndInterpolatesLinearly()
    {
        var id = LatentMotionClassifier.Resampling(4, 4).ToArray();
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) Assert.Equal(i == j ? 1f : 0f, id[i * 4 + j], 6);
        // 3 samples of a ramp 0, 1, 2 resampled to 5: 0, 0.5, 1, 1.5, 2
        var ramp = Tensor.FromArray(new[] { 0f, 1f, 2f }, 1, 3);
        var r = Ops.Matmul(ramp, LatentMotionClassifier.Resampling(3, 5)).ToArray();
        Assert.Equal(new[] { 0f, 0.5f, 1f, 1.5f, 2f }, r, new FloatTolerance(1e-6f));
        // each output is a convex combination
        var m = LatentMotionClassifier.Resampling(7, 3).ToArray();
        for (int j = 0; j < 3; j++) Assert.Equal(1f, Enumerable.Range(0, 7).Sum(i => m[i * 3 + j]), 5);
    }

    [Fact]
    public void TracksFollowAPeakedMapAcrossFrames()
    {
        // one map per frame with a sharp peak at column f + 1, row 2 of a 4x5 grid
        int f = 3, h = 4, w = 5;
        var maps = Tensor.Zeros(1, 1, f, h, w);
        for (int i = 0; i < f; i++) maps.Span[i * h * w + 2 * w + (i + 1)] = 40f;
        var tr = LatentMotionClassifier.Tracks(maps).ToArray(); // [1, 1, 4, F]
        for (int i = 0; i < f; i++)
        {
            Assert.Equal(2f * (i + 1) / (w - 1) - 1f, tr[0 * f + i], 4);   // x
            Assert.Equal(2f * 2 / (h - 1) - 1f, tr[1 * f + i], 4);         // y
            Assert.Equal(0f, tr[2 * f + i], 4);                           // no spread
            Assert.Equal(0f, tr[3 * f + i], 4);
        }
        // a flat map sits in the middle with the spread of a uniform grid
        var flat = LatentMotionClassifier.Tracks(Tensor.Zeros(1, 1, 1, 1, 3)).ToArray();
        Assert.Equal(0f, flat[0], 6);
        Assert.Equal(4f * 2f / 3f, flat[2], 5); // x in {-1, 0, 1}: variance 2/3, times 4
    }

    [Fact]
    public void GradientOfTheLogProbabilityMatchesFiniteDifferences()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(4));
        c.Freeze();
        var z = Tensor.Randn(new Rng(5), 2, 2, 4, 4, 3);
        var t = Tensor.FromArray(new[] { 0.3f, 0.7f }, 2);
        var labels = new[] { 1, 2 };
        var leaf = z.DetachedLeaf();
        Tensor g;
        using (GradMode.EnableGrad()) g = Autograd.Grad(c.LogProbability(leaf, t, labels), new[] { leaf })[0];
        double Eval(Tensor x) { using var _ = GradMode.NoGrad(); return c.LogProbability(x, t, labels).Item(); }
        var rng = new Random(6);
        const float eps = 1e-2f;
        for (int k = 0; k < 32; k++)
        {
            int i = rng.Next(z.Numel);
            var p = z.Clone(); p.Span[i] += eps;
            var m = z.Clone(); m.Span[i] -= eps;
            double fd = (Eval(p) - Eval(m)) / (2 * eps);
            Assert.True(Math.Abs(fd - g.Span[i]) <= 3e-2 * Math.Abs(fd) + 5e-4, $"element {i}: autograd {g.Span[i]}, finite difference {fd}");
        }
    }

    [Fact]
    public void LogProbabilityIsTheLogSoftmaxOfTheAskedClass()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(7));
        var z = Tensor.Randn(new Rng(8), 1, 2, 3, 4, 4);
        var t = Tensor.FromArray(new[] { 0.4f }, 1);
        var l = c.Forward(z, t).ToArray();
        double lse = Math.Log(l.Sum(v => Math.Exp(v)));
        Assert.Equal(l[2] - lse, c.LogProbability(z, t, new[] { 2 }).Item(), 4);
        Assert.Throws<ArgumentException>(() => c.LogProbability(z, t, new[] { 3 }));
        Assert.Throws<ArgumentException>(() => c.LogProbability(z, t, new[] { 0, 1 }));
    }

    [Fact]
    public void SaveLoadRoundTripsWeightsConfigAndTrainingInfo()
    {
        var dir = Path.Combine(Path.GetTempPath(), "fg-lmc-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(9))
            {
                TrainingInfo = new System.Text.Json.Nodes.JsonObject { ["world_version"] = 2 },
            };
            c.Save(dir);
            var back = LatentMotionClassifier.Load(dir);
            Assert.Equal(c.Config, back.Config);
            Assert.Equal(Classes, back.Config.Classes);
            Assert.Equal(2, back.TrainingInfo?["world_version"]?.GetValue<int>());
            Assert.All(back.Parameters(), p => Assert.False(p.RequiresGrad));
            var z = Tensor.Randn(new Rng(10), 1, 2, 3, 4, 4);
            var t = Tensor.FromArray(new[] { 0.5f }, 1);
            Assert.Equal(c.Forward(z, t).ToArray(), back.Forward(z, t).ToArray());
            Assert.Throws<DirectoryNotFoundException>(() => LatentMotionClassifier.Load(Path.Combine(dir, "nope")));
            File.WriteAllText(Path.Combine(dir, LatentMotionClassifier.ConfigFileName), "{\"in_channels\": 2}");
            Assert.Contains("not a valid classifier config", Assert.Throws<InvalidDataException>(() => LatentMotionClassifier.Load(dir)).Message);
            File.WriteAllText(Path.Combine(dir, LatentMotionClassifier.ConfigFileName),
                "{\"in_channels\": 2, \"width\": 4, \"keypoints\": 3, \"frames\": 3, \"head_dim\": 8, \"classes\": [\"a\", \"a\"]}");
            Assert.Contains("repeat", Assert.Throws<InvalidDataException>(() => LatentMotionClassifier.Load(dir)).Message);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void BadInputsThrowNamingTheShape()
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(1));
        var t = Tensor.FromArray(new[] { 0.5f }, 1);
        Assert.Contains("[B, 2, F, H, W]", Assert.Throws<ArgumentException>(() => c.Forward(Tensor.Zeros(1, 3, 3, 4, 4), t)).Message);
        Assert.Contains("t must be [1]", Assert.Throws<ArgumentException>(() => c.Forward(Tensor.Zeros(1, 2, 3, 4, 4), Tensor.Zeros(2))).Message);
        Assert.Throws<ArgumentException>(() => new LatentMotionClassifierConfig(2, 4, 3, 3, 8, new[] { "only" }).Validate());
    }

    private static readonly string[] Colours = { "red", "blue" };

    /// <summary>A conditional tiny classifier whose FiLM layers are given random weights (they start at zero).</summary>
    private static LatentMotionClassifier Conditional(ulong seed)
    {
        var c = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes, Colours), new Rng(seed));
        var rng = new Rng(seed + 100);
        foreach (var layer in c.Film!.Items)
        {
            var w = layer.Weight.Span;
            for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.Uniform() - 0.5);
        }
        return c;
    }

    [Fact]
    public void ConditionalClassifierStartsAsTheUnconditionalOneAndThenReadsTheSubject()
    {
        var plain = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(11));
        var cond = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes, Colours), new Rng(11));
        Assert.Null(plain.Film);
        Assert.Equal(new[] { "film.0.weight", "film.1.weight" }, cond.NamedParameters().Select(p => p.Key).Where(n => n.StartsWith("film", StringComparison.Ordinal)));
        var z = Tensor.Randn(new Rng(12), 2, 2, 3, 4, 4);
        var t = Tensor.FromArray(new[] { 0.3f, 0.6f }, 2);
        // zero-initialised FiLM: identical to the unconditional network whatever the subject
        Assert.Equal(plain.Forward(z, t).ToArray(), cond.Forward(z, t, new[] { 0, 1 }).ToArray(), new FloatTolerance(1e-6f));
        var c = Conditional(11);
        var a = c.Forward(z, t, new[] { 0, 0 }).ToArray();
        var b = c.Forward(z, t, new[] { 1, 0 }).ToArray();
        Assert.NotEqual(a[0..3], b[0..3]);                                   // the subject changes item 0's logits
        Assert.Equal(a[3..6], b[3..6], new FloatTolerance(1e-6f));           // and not item 1's
        var alone = c.Forward(Ops.Narrow(z, 0, 0, 1), Tensor.FromArray(new[] { 0.3f }, 1), new[] { 1 }).ToArray();
        Assert.Equal(b[0..3], alone, new FloatTolerance(1e-5f));
    }

    [Fact]
    public void ConditionalGradientsMatchFiniteDifferencesForTheLatentAndTheFilmWeights()
    {
        var c = Conditional(13);
        var z = Tensor.Randn(new Rng(14), 2, 2, 4, 4, 3);
        var t = Tensor.FromArray(new[] { 0.3f, 0.7f }, 2);
        int[] labels = { 1, 2 }, subjects = { 1, 0 };
        var leaf = z.DetachedLeaf();
        var film = c.Film![0].Weight;
        Tensor gz, gw;
        using (GradMode.EnableGrad())
        {
            var g = Autograd.Grad(c.LogProbability(leaf, t, labels, subjects), new[] { leaf, film });
            (gz, gw) = (g[0], g[1]);
        }
        double Eval() { using var _ = GradMode.NoGrad(); return c.LogProbability(z, t, labels, subjects).Item(); }
        var rng = new Random(15);
        const float eps = 1e-2f;
        foreach (var (x, g, name) in new[] { (z, gz, "latent"), (film, gw, "film.0.weight") })
        {
            for (int k = 0; k < 24; k++)
            {
                int i = rng.Next(x.Numel);
                double fd = FlowGuide.TestSupport.FiniteDifference.Central(x, i, eps, Eval);
                Assert.True(Math.Abs(fd - g.Span[i]) <= 3e-2 * Math.Abs(fd) + 5e-4, $"{name} element {i}: autograd {g.Span[i]}, finite difference {fd}");
            }
        }
    }

    [Fact]
    public void SubjectsAreCheckedAndSavedWithTheConfig()
    {
        var c = Conditional(16);
        var plain = new LatentMotionClassifier(LatentMotionClassifierConfig.Tiny(2, Classes), new Rng(16));
        var z = Tensor.Randn(new Rng(17), 1, 2, 3, 4, 4);
        var t = Tensor.FromArray(new[] { 0.5f }, 1);
        Assert.Contains("red, blue", Assert.Throws<ArgumentException>(() => c.Forward(z, t)).Message);
        Assert.Contains("outside the 2 subjects", Assert.Throws<ArgumentException>(() => c.Forward(z, t, new[] { 2 })).Message);
        Assert.Contains("2 subjects for a batch of 1", Assert.Throws<ArgumentException>(() => c.Forward(z, t, new[] { 0, 1 })).Message);
        Assert.Contains("unconditional", Assert.Throws<ArgumentException>(() => plain.Forward(z, t, new[] { 0 })).Message);
        Assert.Equal(1, c.Config.SubjectIndexOf("blue"));
        Assert.Equal(-1, c.Config.SubjectIndexOf("green"));
        Assert.Throws<ArgumentException>(() => LatentMotionClassifierConfig.Tiny(2, Classes, new[] { "red", "red" }).Validate());
        var dir = Path.Combine(Path.GetTempPath(), "fg-lmc-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            c.Save(dir);
            var back = LatentMotionClassifier.Load(dir);
            Assert.Equal(Colours, back.Config.SubjectNames);
            Assert.Equal(c.Forward(z, t, new[] { 1 }).ToArray(), back.Forward(z, t, new[] { 1 }).ToArray());
            // an unconditional classifier's config has no "subjects" key, and reads back unconditional
            Assert.Null(plain.Config.ToJson()["subjects"]);
            Assert.False(LatentMotionClassifierConfig.FromJson(plain.Config.ToJson(), "x").Conditional);
            var bad = c.Config.ToJson();
            bad["subjects"] = "red";
            Assert.Contains("'subjects' is not a list", Assert.Throws<InvalidDataException>(() => LatentMotionClassifierConfig.FromJson(bad, "x")).Message);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, true);
        }
    }

    private sealed class FloatTolerance(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tol;
        public int GetHashCode(float v) => 0;
    }
}
