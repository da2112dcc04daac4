using FlowGuide.Training.World;
using static FlowGuide.Training.Tests.WorldTestUtil;

namespace FlowGuide.Training.Tests;

/// <summary>
/// The occlusion mask against an independent recomputation from the public kinematics and silhouettes: a point
/// visible at t is flagged exactly when, at t + 1, it is out of frame or a nearer shape covers it.
/// </summary>
public class WorldOcclusionTests
{
    private static ClipSpec Clip(CameraPan? pan, params ShapeSpec[] shapes) => new()
    {
        Seed = 3, Frames = 8, Width = 64, Height = 64, Background = BackgroundSpec.Plain(ColorName.Black), Pan = pan, Shapes = shapes,
    };

    /// <summary>Whether shape <paramref name="index"/> covers image point (px, py) at frame t, from the public geometry.</summary>
    private static bool Covers(ClipSpec spec, int index, double t, double px, double py)
    {
        var (qx, qy) = Kinematics.Pose(spec, index, t).ToLocal(px, py);
        return ShapeGeometry.Contains(spec.Shapes[index].Kind, qx, qy);
    }

    /// <summary>Recomputes every occlusion flag; returns (mismatches, occluded pixels of each owner id).</summary>
    private static (int Mismatches, int[] OccludedByOwner) Recompute(WorldClip clip)
    {
        var spec = clip.Spec;
        int h = clip.Height, w = clip.Width, plane = h * w, n = spec.Shapes.Count, mismatches = 0;
        var occludedByOwner = new int[n + 1];
        for (int t = 0; t < clip.Frames - 1; t++)
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int i = y * w + x, id = Id(clip, t, y, x);
            double nx = x + 0.5 + clip.Flow.Span[t * 2 * plane + i], ny = y + 0.5 + clip.Flow.Span[t * 2 * plane + plane + i];
            bool expected = nx < 0 || nx > w || ny < 0 || ny > h;
            if (!expected)
            {
                int front = -1;
                for (int k = n - 1; k >= 0 && front < 0; k--) if (Covers(spec, k, t + 1, nx, ny)) front = k;
                expected = front != id - 1;
            }
            bool flagged = clip.Occlusion.Span[t * plane + i] != 0;
            if (flagged != expected) mismatches++;
            if (flagged) occludedByOwner[id]++;
        }
        return (mismatches, occludedByOwner);
    }

    [Fact]
    public void AShapeMovingBehindANearerOneIsFlaggedWhereItDisappears()
    {
        var spec = Clip(null,
            Shape(ShapeKind.Square, ColorName.Red, 0.25, 0.5, 0.15, new MotionSpec { Kind = MotionKind.Linear, VelocityX = 0.05 }),
            Shape(ShapeKind.Circle, ColorName.Blue, 0.6, 0.5, 0.2));
        var clip = MotionWorld.Render(spec);
        var (mismatches, byOwner) = Recompute(clip);
        Assert.Equal(0, mismatches);
        Assert.True(byOwner[1] > 30, $"only {byOwner[1]} red pixels go behind the circle");
        Assert.Equal(0, byOwner[2]); // the still front circle never loses a pixel
    }

    [Fact]
    public void BackgroundCoveredByAMovingShapeIsFlaggedAheadOfIt()
    {
        var spec = Clip(null,
            Shape(ShapeKind.Circle, ColorName.Green, 0.3, 0.5, 0.2, new MotionSpec { Kind = MotionKind.Linear, VelocityX = 0.04 }));
        var clip = MotionWorld.Render(spec);
        var (mismatches, byOwner) = Recompute(clip);
        Assert.Equal(0, mismatches);
        Assert.True(byOwner[0] > 30);
        Assert.Equal(0, byOwner[1]);
        // the circle is convex: every flagged background pixel lies right of its centre, covered by the leading edge
        int plane = 64 * 64;
        for (int t = 0; t < clip.Frames - 1; t++)
        {
            double cx = Kinematics.Pose(spec, 0, t).CenterX;
            for (int i = 0; i < plane; i++)
                if (clip.Occlusion.Span[t * plane + i] != 0) Assert.True(i % 64 + 0.5 > cx);
        }
    }

    [Fact]
    public void PointsLeavingTheFrameAreFlagged()
    {
        var spec = Clip(new CameraPan { VelocityX = 0.03 },
            Shape(ShapeKind.Circle, ColorName.Yellow, 0.15, 0.5, 0.15, new MotionSpec { Kind = MotionKind.Linear, VelocityX = -0.06 }));
        var clip = MotionWorld.Render(spec);
        var (mismatches, byOwner) = Recompute(clip);
        Assert.Equal(0, mismatches);
        Assert.True(byOwner[1] > 10, "the circle leaving through the left edge");
        int plane = 64 * 64;
        // the camera pans right by 1.92 px a frame: background in columns 0 and 1 leaves, column 2 stays
        for (int y = 0; y < 64; y++)
        {
            if (Id(clip, 0, y, 0) == 0) Assert.Equal(1f, clip.Occlusion.Span[y * 64]);
            if (Id(clip, 0, y, 1) == 0) Assert.Equal(1f, clip.Occlusion.Span[y * 64 + 1]);
            if (Id(clip, 0, y, 2) == 0 && Id(clip, 1, y, 0) == 0) Assert.Equal(0f, clip.Occlusion.Span[y * 64 + 2]);
        }
        Assert.Equal(clip.Occlusion.Numel, plane * (clip.Frames - 1));
    }

    [Fact]
    public void AStaticSceneHasNoOcclusion()
    {
        var clip = MotionWorld.Render(Clip(null,
            Shape(ShapeKind.Ring, ColorName.Cyan, 0.4, 0.4, 0.2), Shape(ShapeKind.Triangle, ColorName.White, 0.5, 0.5, 0.2)));
        Assert.All(clip.Occlusion.ToArray(), v => Assert.Equal(0f, v));
        Assert.All(clip.Flow.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(WorldFlowTests.MotionCases), MemberType = typeof(WorldFlowTests))]
    public void OcclusionMatchesTheIndependentRecomputationForEveryMotion(string name)
    {
        var (mismatches, _) = Recompute(MotionWorld.Render(WorldFlowTests.Case(name)));
        Assert.Equal(0, mismatches);
    }
}
