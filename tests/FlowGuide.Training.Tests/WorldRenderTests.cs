using System.Diagnostics;
using System.Security.Cryptography;
using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;
using FlowGuide.Training.World;
using Xunit.Abstractions;

namespace FlowGuide.Training.Tests;

/// <summary>Rendering: bit-for-bit determinism, output shapes and ranges, tracks and masks, byte conversion, bad specs.</summary>
public class WorldRenderTests
{
    private readonly ITestOutputHelper _out;

    public WorldRenderTests(ITestOutputHelper output) => _out = output;

    private static byte[] Bytes(Tensor t)
    {
        var f = t.ToArray();
        var b = new byte[f.Length * 4];
        Buffer.BlockCopy(f, 0, b, 0, b.Length);
        return b;
    }

    /// <summary>SHA-256 over video, flow, occlusion and instance ids, as little-endian float bits.</summary>
    internal static string Digest(WorldClip clip)
    {
        using var sha = SHA256.Create();
        foreach (var t in new[] { clip.Video, clip.Flow, clip.Occlusion, clip.Instances })
        {
            var b = Bytes(t);
            sha.TransformBlock(b, 0, b.Length, null, 0);
        }
        sha.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
        return Convert.ToHexString(sha.Hash!)[..16];
    }

    /// <summary>
    /// Golden digests: these clips must render to the same bits on every machine and runtime. A change here means the
    /// world changed (sampler, renderer, or DeterministicMath / Rng), and every dataset drawn from it with it: then
    /// <see cref="MotionWorld.Version"/> must change too. Version 2 moved the straight-moving subjects of clips 0, 1
    /// (train) and 3 (held-out); clip 2 (a subject that does not move in a straight line) kept its version-1 digest.
    /// </summary>
    [Theory]
    [InlineData(0L, WorldSplit.Train, "8B356383C6354B9A")]
    [InlineData(1L, WorldSplit.Train, "4CB1A6CFEFCDD888")]
    [InlineData(2L, WorldSplit.Validation, "D584E7B69D4D1045")]
    [InlineData(3L, WorldSplit.HeldOut, "ACAF3E828D93F89F")]
    public void GoldenDigestsAreStable(long index, WorldSplit split, string expected)
    {
        var clip = MotionWorld.Generate(index, split);
        string digest = Digest(clip);
        _out.WriteLine($"{index} {split}: {digest}  {clip.Caption}");
        Assert.Equal(expected, digest);
    }

    [Fact]
    public void JsonRoundTripGivesAnEqualSpecAndIdenticalPixels()
    {
        for (int i = 0; i < 40; i++)
        {
            var spec = MotionWorld.Sample(i, (WorldSplit)(i % 4));
            var back = ClipSpec.FromJson(spec.ToJson());
            Assert.Equal(spec, back);
            Assert.Equal(spec.ToJson(), back.ToJson());
            if (i < 2) Assert.Equal(Digest(MotionWorld.Render(spec)), Digest(MotionWorld.Render(back)));
        }
        Assert.Contains("\"Kind\":\"", MotionWorld.Sample(0, WorldSplit.Train).ToJson()); // enums by name
    }

    [Fact]
    public void OutputsHaveTheDocumentedShapesAndRanges()
    {
        var spec = MotionWorld.Sample(5, WorldSplit.Train, frames: 6, width: 72, height: 40);
        var clip = MotionWorld.Render(spec);
        Assert.Equal(new[] { 3, 6, 40, 72 }, clip.Video.Shape.ToArray());
        Assert.Equal(new[] { 5, 2, 40, 72 }, clip.Flow.Shape.ToArray());
        Assert.Equal(new[] { 5, 40, 72 }, clip.Occlusion.Shape.ToArray());
        Assert.Equal(new[] { 6, 40, 72 }, clip.Instances.Shape.ToArray());
        Assert.All(clip.Video.ToArray(), v => Assert.InRange(v, -1f, 1f));
        Assert.All(clip.Occlusion.ToArray(), v => Assert.True(v == 0f || v == 1f));
        Assert.All(clip.Instances.ToArray(), v => Assert.InRange(v, 0f, spec.Shapes.Count));
        Assert.Equal(spec.Shapes.Count, clip.Tracks.Count);

        var one = MotionWorld.Render(spec with { Frames = 1 });
        Assert.Equal(new[] { 0, 2, 40, 72 }, one.Flow.Shape.ToArray());
    }

    [Fact]
    public void TracksAgreeWithMasksAndPixels()
    {
        var spec = new ClipSpec
        {
            Frames = 5,
            Background = BackgroundSpec.Plain(ColorName.Gray),
            Shapes = new[]
            {
                WorldTestUtil.Shape(ShapeKind.Square, ColorName.Red, 0.5, 0.5, 0.2,
                    new MotionSpec { Kind = MotionKind.Linear, VelocityX = 0.05 }),
            },
        };
        var clip = MotionWorld.Render(spec);
        var track = clip.Tracks[0];
        var mask = clip.Mask(0).ToArray();
        int plane = 64 * 64;
        for (int t = 0; t < 5; t++)
        {
            Assert.Equal(track.VisibleArea[t], (int)mask.Skip(t * plane).Take(plane).Sum());
            Assert.Equal((0.5 + 0.05 * t) * 64, track.Poses[t].CenterX, 1e-9);
            // a square of side 1.5 r = 19.2 px: 369 px^2; pixel centres inside it differ by under one perimeter
            Assert.Equal(19.2 * 19.2, track.Area[t], 1e-6);
            Assert.InRange(track.VisibleArea[t], 19.2 * 19.2 - 80, 19.2 * 19.2 + 80);
        }
        // pixel (32, 32) is red, darkened by the shading at its local x = 0.5 px / 12.8 px (linear, so exact after averaging)
        var frame = WorldTestUtil.Frame(clip, 0).ToArray();
        int c = 32 * 64 + 32;
        double shade = 1 - 0.25 * (1 - 0.5 / 12.8) / 2;
        Assert.Equal(0.9 * shade * 2 - 1, frame[c], 1e-5);
        Assert.Equal(0.1 * shade * 2 - 1, frame[plane + c], 1e-5);
        // a background pixel is exactly gray
        Assert.Equal(0.0, frame[2], 1e-7);
    }

    [Fact]
    public void RgbBytesRoundTrip()
    {
        var clip = MotionWorld.Render(MotionWorld.Sample(2, WorldSplit.Train, frames: 3, width: 16, height: 8));
        var bytes = clip.ToRgbBytes();
        Assert.Equal(3 * 8 * 16 * 3, bytes.Length);
        var back = VideoBytes.FromRgbBytes(bytes, 3, 8, 16);
        var a = clip.Video.ToArray();
        var b = back.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1 / 127.5 / 2 + 1e-6);
        // [F, H, W, 3] order: byte 0..2 are frame 0, pixel (0, 0), channels R, G, B
        for (int c = 0; c < 3; c++)
            Assert.Equal((byte)Math.Round((a[c * 3 * 8 * 16] + 1) * 127.5), bytes[c]);
        Assert.Throws<ArgumentException>(() => VideoBytes.ToRgbBytes(Tensor.Zeros(2, 3, 4)));
        Assert.Throws<ArgumentException>(() => VideoBytes.FromRgbBytes(new byte[5], 1, 1, 1));
    }

    [Fact]
    public void BadSpecsAreRejectedWithTheirParameterNamed()
    {
        var good = MotionWorld.Sample(0, WorldSplit.Train);
        void Bad(ClipSpec spec, string word)
        {
            var e = Assert.Throws<ArgumentException>(() => MotionWorld.Render(spec));
            Assert.Contains(word, e.Message);
        }
        Bad(good with { Frames = 0 }, "Frames");
        Bad(good with { Width = 0 }, "Width");
        Bad(good with { Shapes = Array.Empty<ShapeSpec>() }, "shape");
        Bad(good with { Subject = 9 }, "Subject");
        Bad(good with { Pan = new CameraPan() }, "Pan");
        Bad(good with { Shapes = new[] { good.Shapes[0] with { Color = ColorName.Black } }, Subject = 0 }, "Color");
        Bad(good with { Shapes = new[] { good.Shapes[0] with { Radius = -1 } }, Subject = 0 }, "Radius");
        Bad(good with
        {
            Shapes = new[] { good.Shapes[0] with { Motion = new MotionSpec { Kind = MotionKind.Shrink, ScaleRate = -0.2 } } },
            Subject = 0,
        }, "scale");
        Bad(good with { Background = new BackgroundSpec { Kind = BackgroundKind.Striped, Period = 0 } }, "Period");
        Assert.Throws<ArgumentException>(() => ClipSpec.FromJson("{not json"));
        Assert.Throws<ArgumentOutOfRangeException>(() => MotionWorld.Sample(-1, WorldSplit.Train));
    }

    [Fact]
    public void RenderTimeIsReported()
    {
        var spec = MotionWorld.Sample(4, WorldSplit.Train);
        MotionWorld.Render(spec); // warm-up (JIT)
        var times = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            MotionWorld.Render(MotionWorld.Sample(i, WorldSplit.Train));
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        _out.WriteLine($"render 17x64x64 (video, flow, occlusion, masks) on {Parallelism.NumThreads} threads: " +
                       $"min {times.Min():F1} ms, mean {times.Average():F1} ms, max {times.Max():F1} ms");
    }
}

/// <summary>
/// Tests that change <see cref="Parallelism.NumThreads"/>, a process-wide setting: they run alone, so that no other test
/// (the bit-exact resume tests in particular) computes under a thread count it did not choose.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "Process-wide thread count";
}

[Collection(ThreadCountCollection.Name)]
public class WorldRenderThreadTests
{
    private static string Digest(WorldClip clip) => WorldRenderTests.Digest(clip);

    [Fact]
    public void TheSameSpecRendersIdenticalBitsOnOneAndManyThreads()
    {
        var spec = MotionWorld.Sample(11, WorldSplit.Train);
        string many = Digest(MotionWorld.Render(spec));
        Assert.Equal(many, Digest(MotionWorld.Render(spec)));
        int saved = Parallelism.NumThreads;
        try
        {
            Parallelism.NumThreads = 1;
            Assert.Equal(many, Digest(MotionWorld.Render(spec)));
        }
        finally
        {
            Parallelism.NumThreads = saved;
        }
    }
}
