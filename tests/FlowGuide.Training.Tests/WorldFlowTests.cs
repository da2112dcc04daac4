using FlowGuide.Tensors;
using FlowGuide.Training.World;
using Xunit.Abstractions;
using static FlowGuide.Training.Tests.WorldTestUtil;

namespace FlowGuide.Training.Tests;

/// <summary>
/// The exact flow is checked two ways: against closed forms (translation, rotation, pan), and by warping frame t + 1
/// back with it, which must reproduce frame t away from edges for every motion type, while a wrong flow must not.
/// </summary>
public class WorldFlowTests
{
    private readonly ITestOutputHelper _out;

    public WorldFlowTests(ITestOutputHelper output) => _out = output;

    private const double TwoPi = 2 * Math.PI;

    private static ClipSpec Clip(BackgroundSpec background, CameraPan? pan, params ShapeSpec[] shapes) => new()
    {
        Seed = 7, Frames = 9, Width = 64, Height = 64, Background = background, Pan = pan, Shapes = shapes,
    };

    /// <summary>One clip per motion type, each on a smooth background so that the background is checked too.</summary>
    public static TheoryData<string> MotionCases() => new()
    {
        "linear-right", "linear-diagonal", "bounce", "orbit-cw", "orbit-ccw", "grow", "shrink", "spin-cw", "spin-ccw",
        "pan", "pan-with-moving-shape",
    };

    internal static ClipSpec Case(string name) => name switch
    {
        "linear-right" => Clip(Noise(), null,
            Shape(ShapeKind.Star, ColorName.Red, 0.35, 0.5, 0.2, new MotionSpec { Kind = MotionKind.Linear, VelocityX = 0.04 })),
        "linear-diagonal" => Clip(Gradient(), null,
            Shape(ShapeKind.Square, ColorName.Blue, 0.4, 0.6, 0.18, new MotionSpec { Kind = MotionKind.Linear, VelocityX = 0.027, VelocityY = -0.021 })),
        "bounce" => Clip(Noise(), null,
            Shape(ShapeKind.Circle, ColorName.Yellow, 0.6, 0.5, 0.17, new MotionSpec { Kind = MotionKind.Bounce, VelocityX = 0.09, VelocityY = 0.035 })),
        "orbit-cw" => Clip(Gradient(), null,
            Shape(ShapeKind.Diamond, ColorName.Green, 0, 0, 0.16, new MotionSpec
            {
                Kind = MotionKind.Orbit, OrbitCenterX = 0.5, OrbitCenterY = 0.5, OrbitRadius = 0.2, OrbitPhase = 1, AngularVelocity = 0.3,
            })),
        "orbit-ccw" => Clip(Noise(), null,
            Shape(ShapeKind.Ring, ColorName.Cyan, 0, 0, 0.26, new MotionSpec
            {
                Kind = MotionKind.Orbit, OrbitCenterX = 0.5, OrbitCenterY = 0.5, OrbitRadius = 0.15, OrbitPhase = -2, AngularVelocity = -0.25,
            })),
        "grow" => Clip(Noise(), null,
            Shape(ShapeKind.Triangle, ColorName.Orange, 0.5, 0.5, 0.14, new MotionSpec { Kind = MotionKind.Grow, ScaleRate = 0.1 })),
        "shrink" => Clip(Gradient(), null,
            Shape(ShapeKind.Square, ColorName.Purple, 0.5, 0.5, 0.25, new MotionSpec { Kind = MotionKind.Shrink, ScaleRate = -0.06 })),
        "spin-cw" => Clip(Noise(), null,
            Shape(ShapeKind.Square, ColorName.White, 0.5, 0.5, 0.3, new MotionSpec { Kind = MotionKind.Rotate, AngularVelocity = 0.2 })),
        "spin-ccw" => Clip(Gradient(), null,
            Shape(ShapeKind.Star, ColorName.Red, 0.5, 0.5, 0.3, new MotionSpec { Kind = MotionKind.Rotate, AngularVelocity = -0.15 })),
        "pan" => Clip(Noise(), new CameraPan { VelocityX = 0.03, VelocityY = 0.017 },
            Shape(ShapeKind.Circle, ColorName.Blue, 0.3, 0.4, 0.15),
            Shape(ShapeKind.Square, ColorName.Red, 0.65, 0.6, 0.15)),
        "pan-with-moving-shape" => Clip(Gradient(), new CameraPan { VelocityX = -0.035 },
            Shape(ShapeKind.Square, ColorName.Green, 0.4, 0.5, 0.2, new MotionSpec { Kind = MotionKind.Rotate, AngularVelocity = 0.2 }),
            Shape(ShapeKind.Circle, ColorName.Yellow, 0.2, 0.3, 0.12, new MotionSpec { Kind = MotionKind.Linear, VelocityY = 0.03 })),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(MotionCases))]
    public void WarpingTheNextFrameBackWithTheFlowReproducesTheFrame(string name)
    {
        var clip = MotionWorld.Render(Case(name));
        double worst = 0;
        for (int t = 0; t < clip.Frames - 1; t++)
        {
            var s = WarpBack(clip, t);
            Assert.True(s.Pixels > 500, $"{name} t={t}: only {s.Pixels} pixels away from edges");
            Assert.True(s.ShapePixels > 20, $"{name} t={t}: only {s.ShapePixels} shape pixels away from edges");
            Assert.True(s.MaxError < 0.03, $"{name} t={t}: max |warped - frame| = {s.MaxError:F4} over {s.Pixels} pixels");
            Assert.True(s.MeanError < 0.004, $"{name} t={t}: mean |warped - frame| = {s.MeanError:F5}");
            worst = Math.Max(worst, s.MaxError);
        }
        _out.WriteLine($"{name}: worst max error {worst:F5}");
    }

    [Theory]
    [InlineData("spin-cw")]
    [InlineData("orbit-cw")]
    [InlineData("linear-right")]
    [InlineData("pan")]
    public void AWrongFlowDoesNotPassTheWarpCheck(string name)
    {
        // the check has teeth: no flow, or the exact flow at half length, leaves errors many times larger
        var clip = MotionWorld.Render(Case(name));
        var exact = FlowPair(clip, 2);
        var good = WarpBack(clip, 2);
        foreach (var (label, wrong) in new[] { ("zero", Tensor.Zeros(1, 2, clip.Height, clip.Width)), ("half", Ops.Mul(exact, Tensor.Scalar(0.5f))) })
        {
            var bad = WarpBack(clip, 2, wrong);
            _out.WriteLine($"{name}: exact flow mean {good.MeanError:F5} max {good.MaxError:F4}; {label} flow mean {bad.MeanError:F5} max {bad.MaxError:F4}");
            Assert.True(bad.MeanError > 10 * good.MeanError && bad.MaxError > 3 * good.MaxError && bad.MaxError > 0.01,
                $"{name}: {label} flow gives mean {bad.MeanError:F5} / max {bad.MaxError:F4}, exact flow mean {good.MeanError:F5} / max {good.MaxError:F4}");
        }
    }

    [Fact]
    public void TranslationFlowIsTheVelocityOnTheShapeAndZeroOnTheBackground()
    {
        var clip = MotionWorld.Render(Case("linear-diagonal"));
        int plane = 64 * 64;
        var fl = clip.Flow.Span;
        for (int t = 0; t < clip.Frames - 1; t++)
        for (int i = 0; i < plane; i++)
        {
            int id = (int)clip.Instances.Span[t * plane + i];
            float u = fl[t * 2 * plane + i], v = fl[t * 2 * plane + plane + i];
            if (id == 0) { Assert.Equal(0f, u); Assert.Equal(0f, v); }
            else
            {
                Assert.Equal(0.027 * 64, u, 1e-4);
                Assert.Equal(-0.021 * 64, v, 1e-4);
            }
        }
    }

    [Fact]
    public void RotationFlowTurnsEachPointAboutTheCentre()
    {
        var spec = Case("spin-cw");
        var clip = MotionWorld.Render(spec);
        double cx = 0.5 * 64, cy = 0.5 * 64, omega = 0.2;
        int plane = 64 * 64, t = 3, checkedPixels = 0;
        for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
        {
            if (Id(clip, t, y, x) != 1) continue;
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            double eu = Math.Cos(omega) * dx - Math.Sin(omega) * dy - dx, ev = Math.Sin(omega) * dx + Math.Cos(omega) * dy - dy;
            Assert.Equal(eu, clip.Flow.Span[t * 2 * plane + y * 64 + x], 1e-4);
            Assert.Equal(ev, clip.Flow.Span[t * 2 * plane + plane + y * 64 + x], 1e-4);
            checkedPixels++;
        }
        Assert.True(checkedPixels > 200);
        // clockwise on screen: a point right of the centre moves down
        int right = (int)(cx + 10), mid = (int)cy;
        Assert.True(clip.Flow.Span[t * 2 * plane + plane + mid * 64 + right] > 0);
    }

    [Fact]
    public void ScalingFlowPointsAwayFromTheCentreWhenGrowing()
    {
        var clip = MotionWorld.Render(Case("grow"));
        int plane = 64 * 64, t = 2;
        // scale 1 + 0.1 t: a point at offset d from the centre moves by d * (s(t+1)/s(t) - 1)
        double ratio = (1 + 0.1 * (t + 1)) / (1 + 0.1 * t) - 1;
        int x = 36, y = 32; // right of the centre (32, 32), inside the triangle
        Assert.Equal(1, Id(clip, t, y, x));
        Assert.Equal((x + 0.5 - 32) * ratio, clip.Flow.Span[t * 2 * plane + y * 64 + x], 1e-4);
        Assert.Equal((y + 0.5 - 32) * ratio, clip.Flow.Span[t * 2 * plane + plane + y * 64 + x], 1e-4);
    }

    [Fact]
    public void PanFlowMovesTheWorldAgainstTheCamera()
    {
        var clip = MotionWorld.Render(Case("pan"));
        int plane = 64 * 64;
        for (int i = 0; i < clip.Flow.Numel / 2; i += 97)
        {
            int t = i / plane, p = i % plane;
            Assert.Equal(-0.03 * 64, clip.Flow.Span[t * 2 * plane + p], 1e-4);
            Assert.Equal(-0.017 * 64, clip.Flow.Span[t * 2 * plane + plane + p], 1e-4);
        }
    }
}
