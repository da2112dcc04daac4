using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Metrics.Tests;

public class ConsistencyTests(ITestOutputHelper output)
{
    [Fact]
    public void StaticVideoIsFullyConsistent()
    {
        var video = TestVideos.Static();
        Assert.Equal(1.0, Consistency.Subject(video), 6);
        Assert.Equal(1.0, Consistency.Background(video), 6);
    }

    [Fact]
    public void NoiseLowersConsistency()
    {
        var video = TestVideos.Translating(1f, 0.5f);
        double subject = Consistency.Subject(video), background = Consistency.Background(video);
        var noisy = TestVideos.WithNoise(video, 0.2f);
        double subjectNoisy = Consistency.Subject(noisy), backgroundNoisy = Consistency.Background(noisy);
        output.WriteLine($"subject {subject} -> {subjectNoisy}; background {background} -> {backgroundNoisy}");
        Assert.True(subjectNoisy < subject, $"subject {subjectNoisy} vs {subject}");
        Assert.True(backgroundNoisy < background, $"background {backgroundNoisy} vs {background}");
    }

    [Fact]
    public void SceneCutLowersConsistency()
    {
        // first half one texture, second half another
        var a = TestVideos.Static(seed: 1).ToArray();
        var b = TestVideos.Static(seed: 9).ToArray();
        int f = TestVideos.Frames, plane = TestVideos.Size * TestVideos.Size;
        for (int c = 0; c < 3; c++)
            for (int t = f / 2; t < f; t++)
                Array.Copy(b, (c * f + t) * plane, a, (c * f + t) * plane, plane);
        var cut = Tensor.FromArray(a, 3, f, TestVideos.Size, TestVideos.Size);
        double subject = Consistency.Subject(cut), background = Consistency.Background(cut);
        output.WriteLine($"scene cut: subject {subject}, background {background}");
        Assert.True(subject < 0.95 && background < 0.99, $"subject {subject}, background {background}");
    }

    [Fact]
    public void FormulaWithCustomFeatures()
    {
        // features = frame's mean red level shifted into a 2-vector; frames give d0 = (1, 0), d1 = (0, 1), d2 = (1, 1)
        var features = new TableFeatures(new[] { new float[] { 1, 0 }, new float[] { 0, 1 }, new float[] { 1, 1 } });
        double s1 = (0 + 0) / 2.0, s2 = (Math.Sqrt(0.5) + Math.Sqrt(0.5)) / 2;
        Assert.Equal((s1 + s2) / 2, Consistency.Compute(Tensor.Zeros(3, 3, 4, 4), features), 6);
    }

    private sealed class TableFeatures(float[][] table) : IFrameFeatures
    {
        private int _next;
        public string Name => "table";
        public float[] Extract(float[] frame, int height, int width) => table[_next++];
    }
}

public class VideoMetricsTests
{
    [Fact]
    public void EvaluateAgreesWithTheSingleMetrics()
    {
        var video = TestVideos.WithNoise(TestVideos.Translating(2f, 1f), 0.05f);
        var all = VideoMetrics.Evaluate(video);
        Assert.Equal(TemporalQuality.TemporalFlickering(video), all.TemporalFlickering, 12);
        Assert.Equal(TemporalQuality.MotionSmoothness(video), all.MotionSmoothness, 12);
        Assert.Equal(WarpingError.Compute(video), all.WarpingError, 12);
        Assert.Equal(DynamicDegree.Evaluate(video).PairMagnitudes, all.Dynamic.PairMagnitudes);
        Assert.True(all.Dynamic.IsDynamic);
        Assert.Equal(Consistency.Subject(video), all.SubjectConsistency, 12);
        Assert.Equal(Consistency.Background(video), all.BackgroundConsistency, 12);
    }
}
