using Xunit.Abstractions;

namespace FlowGuide.Metrics.Tests;

public class TemporalQualityTests(ITestOutputHelper output)
{
    [Fact]
    public void StaticVideoHasFlickerScoreOne()
    {
        Assert.Equal(1.0, TemporalQuality.TemporalFlickering(TestVideos.Static()));
    }

    [Fact]
    public void FlickerMatchesUint8Definition()
    {
        // two frames, constant -1 (level 0) then constant 1 (level 255): d = 255 -> score 0; a 0 -> 51 step: 1 - 51/255
        var data = new float[3 * 2 * 4 * 4];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 16; i++) { data[(c * 2) * 16 + i] = -1f; data[(c * 2 + 1) * 16 + i] = 1f; }
        Assert.Equal(0.0, TemporalQuality.TemporalFlickering(FlowGuide.Tensors.Tensor.FromArray(data, 3, 2, 4, 4)), 12);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 16; i++) data[(c * 2 + 1) * 16 + i] = 51f / 127.5f - 1f;
        Assert.Equal(1 - 51.0 / 255, TemporalQuality.TemporalFlickering(FlowGuide.Tensors.Tensor.FromArray(data, 3, 2, 4, 4)), 12);
    }

    [Fact]
    public void NoiseLowersFlickerScore()
    {
        var clean = TestVideos.Static();
        double s0 = TemporalQuality.TemporalFlickering(clean);
        double s1 = TemporalQuality.TemporalFlickering(TestVideos.WithNoise(clean, 0.05f));
        double s2 = TemporalQuality.TemporalFlickering(TestVideos.WithNoise(clean, 0.2f));
        output.WriteLine($"flicker: clean {s0}, noise 0.05 {s1}, noise 0.2 {s2}");
        Assert.True(s0 > s1 && s1 > s2, $"expected {s0} > {s1} > {s2}");
    }

    [Fact]
    public void TranslatingTextureIsSmooth()
    {
        var video = TestVideos.Translating(1.0f, 0.5f);
        double smooth = TemporalQuality.MotionSmoothness(video);
        double noisy = TemporalQuality.MotionSmoothness(TestVideos.WithNoise(video, 0.1f));
        output.WriteLine($"smoothness: translating {smooth}, with noise {noisy}");
        Assert.True(smooth > 0.99, $"smoothness {smooth}");
        Assert.True(noisy < smooth - 0.01, $"noisy {noisy} vs clean {smooth}");
    }

    [Fact]
    public void JerkyMotionIsLessSmoothThanUniformMotion()
    {
        // odd frames repeat the frame before (a stutter): interpolation from the even frames cannot predict them
        var uniform = TestVideos.Translating(1.0f, 0f);
        var jerky = TestVideos.Translating(1.0f, 0f).ToArray();
        double s = TemporalQuality.MotionSmoothness(uniform);
        double j = TemporalQuality.MotionSmoothness(Jerk(jerky));
        output.WriteLine($"smoothness: uniform {s}, jerky {j}");
        Assert.True(j < s - 0.01, $"jerky {j} vs uniform {s}");
    }

    /// <summary>Replaces every odd frame by the frame before it (a stutter).</summary>
    private static FlowGuide.Tensors.Tensor Jerk(float[] data)
    {
        int f = TestVideos.Frames, plane = TestVideos.Size * TestVideos.Size;
        for (int c = 0; c < 3; c++)
            for (int t = 1; t < f; t += 2)
                Array.Copy(data, (c * f + t - 1) * plane, data, (c * f + t) * plane, plane);
        return FlowGuide.Tensors.Tensor.FromArray(data, 3, f, TestVideos.Size, TestVideos.Size);
    }

    [Fact]
    public void RejectsWrongShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => TemporalQuality.TemporalFlickering(FlowGuide.Tensors.Tensor.Zeros(4, 3, 8, 8)));
        Assert.Contains("TemporalFlickering", ex.Message);
        Assert.Contains("[3, F, H, W]", ex.Message);
        Assert.Throws<ArgumentException>(() => TemporalQuality.MotionSmoothness(FlowGuide.Tensors.Tensor.Zeros(3, 2, 8, 8)));
    }
}
