using FlowGuide.Sampling;

namespace FlowGuide.Sampling.Tests;

public class ScheduleTests
{
    /// <summary>diffusers' construction, written out independently: 1 - linspace(1, 1/1000, N + 1), shifted, flipped, last dropped, 0 appended.</summary>
    private static double[] DiffusersFlowSigmas(int n, double shift)
    {
        var alphas = new double[n + 1];
        for (int i = 0; i <= n; i++) alphas[i] = i == n ? 1.0 / 1000 : 1.0 + i * (1.0 / 1000 - 1.0) / n;
        var shifted = alphas.Select(a => 1.0 - a).Select(s => shift * s / (1 + (shift - 1) * s)).Reverse().Take(n).ToList();
        shifted.Add(0.0);
        return shifted.ToArray();
    }

    [Theory]
    [InlineData(50, 3.0)]
    [InlineData(50, 5.0)]
    [InlineData(7, 1.0)]
    public void CreateMatchesTheFormula(int steps, double shift)
    {
        var s = SigmaSchedule.Create(steps, shift);
        var expected = DiffusersFlowSigmas(steps, shift);
        Assert.Equal(steps + 1, s.Sigmas.Length);
        Assert.Equal(steps, s.Steps);
        Assert.Equal(0.0, s.Sigmas[^1]);
        for (int i = 0; i <= steps; i++) Assert.Equal(expected[i], s.Sigmas[i], 1e-14);
        for (int i = 0; i < steps; i++)
        {
            Assert.Equal(s.Sigmas[i] * 1000, s.Timesteps[i], 1e-12);
            Assert.True(s.Sigmas[i + 1] < s.Sigmas[i]);
        }
    }

    // Computed with /usr/bin/python3 (numpy 1.24) following diffusers' UniPCMultistepScheduler.set_timesteps(use_flow_sigmas):
    //   alphas = np.linspace(1, 1/1000, 51); s = 1 - alphas; s = np.flip(k*s/(1+(k-1)*s))[:-1]
    [Theory]
    [InlineData(3.0, new[] { 0.9996664442961973, 0.9929074657543507, 0.9137052266224731, 0.7496248124062032, 0.0576368321858533 })]
    [InlineData(5.0, new[] { 0.9997998398718975, 0.9957323721338952, 0.9463720098715532, 0.8330553702468313, 0.09250685235943402 })]
    public void CreateMatchesNumpyNumbers(double shift, double[] at0_1_11_25_49)
    {
        var s = SigmaSchedule.Create(50, shift);
        int[] idx = { 0, 1, 11, 25, 49 };
        for (int k = 0; k < idx.Length; k++) Assert.Equal(at0_1_11_25_49[k], s.Sigmas[idx[k]], 1e-15);
    }

    [Fact]
    public void PureNoiseVariantStartsAtOne()
    {
        // sigma = linspace(1, 1/1000, N + 1)[:-1], shifted (numpy: 1.0, 0.9932500912149834, ..., 0.06040538984222012 at shift 3)
        var s = SigmaSchedule.Create(50, 3.0, sigmaMax: 1.0, sigmaMin: 1.0 / 1000);
        Assert.Equal(1.0, s.Sigmas[0]);
        Assert.Equal(0.9932500912149834, s.Sigmas[1], 1e-15);
        Assert.Equal(0.06040538984222012, s.Sigmas[49], 1e-15);
        Assert.Equal(0.0, s.Sigmas[50]);
    }

    [Fact]
    public void FlowMoWindowIsTimesteps999To946()
    {
        // methods.md: FlowMo guides the first 12 of 50 steps, "timesteps 999..946 under Wan's 50-step, shift-5 UniPC schedule".
        var s = SigmaSchedule.Create(50, 5.0);
        var (start, end) = s.WindowFromFractions(0, 12.0 / 50);
        Assert.Equal((0, 12), (start, end));
        Assert.Equal(999.0, s.IntegerTimestep(start));
        Assert.Equal(946.0, s.IntegerTimestep(end - 1));
        Assert.Equal((0, 24), SigmaSchedule.Create(100, 5.0).WindowFromFractions(0, 12.0 / 50));
    }

    [Fact]
    public void SigmaAccessorsAndFromSigmas()
    {
        var s = SigmaSchedule.FromSigmas(new[] { 0.9, 0.5, 0.1, 0.0 });
        Assert.Equal(3, s.Steps);
        Assert.Equal(0.5, s.Sigma(1));
        Assert.Equal(0.1, s.NextSigma(1));
        Assert.Equal(0.0, s.NextSigma(2));
        Assert.Equal(900.0, s.Timesteps[0], 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Sigma(3));
        Assert.Equal(SigmaSchedule.Create(20, 5), SigmaSchedule.Create(20, 5));
        Assert.NotEqual(SigmaSchedule.Create(20, 5), SigmaSchedule.Create(20, 3));
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentException>(() => SigmaSchedule.Create(0, 3));
        Assert.Throws<ArgumentException>(() => SigmaSchedule.Create(10, 0));
        Assert.Throws<ArgumentException>(() => SigmaSchedule.Create(10, double.NaN));
        Assert.Throws<ArgumentException>(() => SigmaSchedule.Create(10, 3, sigmaMax: 1.5));
        Assert.Throws<ArgumentException>(() => SigmaSchedule.FromSigmas(new[] { 0.9, 0.5 }));
        Assert.Throws<ArgumentException>(() => SigmaSchedule.FromSigmas(new[] { 0.5, 0.9, 0.0 }));
        var e = Assert.Throws<ArgumentException>(() => SigmaSchedule.FromSigmas(new[] { 0.9, 0.9, 0.0 }));
        Assert.Contains("strictly decrease", e.Message);
    }
}
