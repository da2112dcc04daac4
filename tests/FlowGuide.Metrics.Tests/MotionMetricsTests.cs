using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Metrics.Tests;

public class MotionMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public void StaticVideoHasDynamicDegreeZero()
    {
        var r = DynamicDegree.Evaluate(TestVideos.Static());
        output.WriteLine($"static: magnitudes {string.Join(", ", r.PairMagnitudes.Select(m => m.ToString("F4")))}, threshold {r.Threshold}");
        Assert.False(r.IsDynamic);
        Assert.Equal(0, r.MovingPairs);
        Assert.Equal(2, r.RequiredPairs); // round(4 * 8 / 16)
        Assert.Equal(6.0 * 48 / 256, r.Threshold, 12);
        Assert.Equal(0.0, DynamicDegree.Score(new[] { r }));
    }

    [Fact]
    public void FastTranslationIsDynamic()
    {
        var r = DynamicDegree.Evaluate(TestVideos.Translating(2.5f, 1f));
        output.WriteLine($"moving: magnitudes {string.Join(", ", r.PairMagnitudes.Select(m => m.ToString("F3")))}");
        Assert.True(r.IsDynamic);
        Assert.Equal(8, r.MovingPairs);
        Assert.All(r.PairMagnitudes, m => Assert.InRange(m, 2.3, 3.2)); // |(2.5, 1)| = 2.69
        var still = DynamicDegree.Evaluate(TestVideos.Static());
        Assert.Equal(0.5, DynamicDegree.Score(new[] { r, still }));
    }

    [Fact]
    public void DynamicDegreeSubsamplesByFps()
    {
        // 16 fps -> stride 2: pairs (0,2), (2,4), (4,6), (6,8); motion doubles per pair
        var r = DynamicDegree.Evaluate(TestVideos.Translating(0.75f, 0f), fps: 16);
        var consecutive = DynamicDegree.Evaluate(TestVideos.Translating(0.75f, 0f));
        output.WriteLine($"stride 2: {string.Join(", ", r.PairMagnitudes.Select(m => m.ToString("F3")))}; stride 1: {string.Join(", ", consecutive.PairMagnitudes.Select(m => m.ToString("F3")))}");
        Assert.Equal(2, r.Stride);
        Assert.Equal(4, r.PairMagnitudes.Count);
        Assert.Equal(1, r.RequiredPairs);
        Assert.All(r.PairMagnitudes, m => Assert.InRange(m, 1.3, 2.2)); // 1.5 px, biased up by the top-5% mean
        Assert.True(r.IsDynamic);
        Assert.False(consecutive.IsDynamic); // 0.75 px per pair < 1.125
    }

    [Fact]
    public void TranslatingTextureHasSmallWarpingErrorAndNoiseRaisesIt()
    {
        var video = TestVideos.Translating(1.0f, 0.5f);
        double clean = WarpingError.Compute(video);
        double noisy = WarpingError.Compute(TestVideos.WithNoise(video, 0.1f));
        double still = WarpingError.Compute(TestVideos.Static());
        output.WriteLine($"warping error: translating {clean:E3}, noisy {noisy:E3}, static {still:E3}");
        Assert.True(clean < 1e-3, $"warping error {clean}");
        Assert.True(still < 1e-5, $"static warping error {still}");
        Assert.True(noisy > 5 * clean, $"noisy {noisy} vs clean {clean}");
    }

    [Fact]
    public void VideoComparedWithItselfHasMotionFidelityOne()
    {
        var video = TestVideos.Translating(1.5f, -0.5f);
        Assert.Equal(1.0, MotionFidelity.Compute(video, video, gridSize: 8), 6);
    }

    [Fact]
    public void MotionFidelityFollowsDirection()
    {
        var right = TestVideos.Translating(1.5f, 0f);
        var rightOther = TestVideos.Translating(1.5f, 0f, seed: 5);
        var left = TestVideos.Translating(-1.5f, 0f, seed: 5);
        var down = TestVideos.Translating(0f, 1.5f, seed: 5);
        double same = MotionFidelity.Compute(rightOther, right, gridSize: 8);
        double opposite = MotionFidelity.Compute(left, right, gridSize: 8);
        double across = MotionFidelity.Compute(down, right, gridSize: 8);
        double noisy = MotionFidelity.Compute(TestVideos.WithNoise(right, 0.15f), right, gridSize: 8);
        output.WriteLine($"motion fidelity: same direction {same}, opposite {opposite}, perpendicular {across}, noisy copy {noisy}");
        Assert.True(same > 0.95, $"same {same}");
        Assert.True(opposite < -0.8, $"opposite {opposite}");
        Assert.InRange(across, -0.3, 0.3);
        Assert.True(noisy < 1.0 - 1e-3 && noisy > across, $"noisy {noisy}");
    }

    [Fact]
    public void MotionFidelityTrimsToShorterVideo()
    {
        var video = TestVideos.Translating(1.5f, 0f);
        var shorter = TestVideos.Translating(1.5f, 0f, frames: 5);
        Assert.Equal(1.0, MotionFidelity.Compute(shorter, video, gridSize: 4), 6);
    }

    [Fact]
    public void ScoreMatchesFormulaOnHandMadeTracks()
    {
        // gen: one point moving right then up; src: point A right, right; point B up, up
        var gen = new PointTracks(1, 3, new float[] { 0, 0, 1, 0, 1, -1 });
        var src = new PointTracks(2, 3, new float[] { 0, 0, 2, 0, 4, 0, /* B */ 0, 0, 0, -3, 0, -6 });
        Assert.Equal(0.5, MotionFidelity.Score(gen, src), 12); // S = [0.5, 0.5]
        Assert.Equal(1.0, MotionFidelity.Score(src, src), 12);
    }

    [Fact]
    public void MovingScoreIgnoresStillTracksAndSubThresholdJitter()
    {
        // src: A moves right 2 px per step, B is still; gen: A' the same path, C jitters 0.1 px in random directions
        var src = new PointTracks(2, 4, new float[] { 0, 0, 2, 0, 4, 0, 6, 0, /* B */ 5, 5, 5, 5, 5, 5, 5, 5 });
        var gen = new PointTracks(2, 4, new float[] { 1, 1, 3, 1, 5, 1, 7, 1, /* C */ 9, 9, 9.1f, 9, 9.1f, 9.1f, 9, 9.1f });
        Assert.Equal(1.0, MotionFidelity.ScoreMoving(gen, src, deadzone: 0.3), 12); // only A and A' count
        // the field's score counts C's jitter as full-length motion and B as still: (1 + max(S[C, m])) / 2 < 1
        Assert.True(MotionFidelity.Score(gen, src) < 0.9);
        // with no dead zone C moves and has no match: the two-sided mean drops
        Assert.True(MotionFidelity.ScoreMoving(gen, src, deadzone: 0) < 0.9);
    }

    [Fact]
    public void MovingScoreOnHandMadeTracks()
    {
        var right = new PointTracks(1, 3, new float[] { 0, 0, 1, 0, 2, 0 });
        var left = new PointTracks(1, 3, new float[] { 2, 0, 1, 0, 0, 0 });
        var still = new PointTracks(1, 3, new float[] { 0, 0, 0, 0, 0, 0 });
        var halfway = new PointTracks(1, 3, new float[] { 0, 0, 1, 0, 1, 0 }); // moves right, then stops
        Assert.Equal(-1.0, MotionFidelity.ScoreMoving(left, right, 0.1), 12);
        Assert.Equal(0.0, MotionFidelity.ScoreMoving(still, right, 0.1), 12);  // the output lacks the motion
        Assert.Equal(0.0, MotionFidelity.ScoreMoving(right, still, 0.1), 12);  // motion the source does not have
        Assert.Equal(1.0, MotionFidelity.ScoreMoving(still, still, 0.1), 12);  // both still
        Assert.Equal(0.5, MotionFidelity.ScoreMoving(halfway, right, 0.1), 12); // agrees on 1 of the 2 steps where either moves
        // two-sided: gen has A (matches src A) and D (opposed to everything); src has A only -> (mean(1, -1) + 1) / 2
        var gen = new PointTracks(2, 3, new float[] { 0, 0, 1, 0, 2, 0, /* D */ 9, 9, 8, 9, 7, 9 });
        Assert.Equal(0.5, MotionFidelity.ScoreMoving(gen, right, 0.1), 12);
        Assert.Throws<ArgumentException>(() => MotionFidelity.ScoreMoving(right, new PointTracks(1, 2, new float[4]), 0.1));
        Assert.Throws<ArgumentException>(() => MotionFidelity.ScoreMoving(right, right, double.NaN));
    }

    [Fact]
    public void ComputeBothScoresAVideoAgainstItselfAsOne()
    {
        var video = TestVideos.Translating(1f, 0.5f);
        var (standard, moving) = MotionFidelity.ComputeBoth(video, video, gridSize: 8);
        Assert.Equal(1.0, standard, 6);
        Assert.Equal(1.0, moving, 6);
        Assert.Equal(standard, MotionFidelity.Compute(video, video, gridSize: 8), 12);
    }

    [Fact]
    public void TracksFollowTranslation()
    {
        var frames = VideoFrames.From(TestVideos.Translating(1f, 0.5f), "test");
        var tracks = PointTracks.FromFlow(MetricFlow.Fast.Consecutive(frames, withBackward: false), gridSize: 4);
        Assert.Equal(16, tracks.Points);
        for (int n = 5; n < 11; n++) // interior points
        {
            var (x0, y0) = tracks.At(n, 0);
            var (x8, y8) = tracks.At(n, 8);
            Assert.InRange(x8 - x0, 7.0, 9.0);
            Assert.InRange(y8 - y0, 3.0, 5.0);
        }
    }

    [Fact]
    public void RejectsMismatchedSizes()
    {
        var ex = Assert.Throws<ArgumentException>(() => MotionFidelity.Compute(Tensor.Zeros(3, 4, 8, 8), Tensor.Zeros(3, 4, 8, 10)));
        Assert.Contains("MotionFidelity", ex.Message);
    }
}
