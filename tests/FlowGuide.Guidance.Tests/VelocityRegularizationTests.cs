using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>Velocity regularization: per latent position, over channels, keep the part along the running average and damp the rest.</summary>
public class VelocityRegularizationTests
{
    private static readonly int[] Shape = { 2, 4, 3, 2, 3 }; // [B, C, F, H, W]
    private const int C = 4, N = 3 * 2 * 3;

    private static int Index(int b, int c, int p) => (b * C + c) * N + p;

    /// <summary>v = k(b, p) * a with a different (some negative, one zero) factor at every position.</summary>
    private static (Tensor V, Tensor A) Parallel()
    {
        var a = Tensor.Randn(new Rng(1), Shape);
        var v = Tensor.Zeros(Shape);
        var k = Tensor.Randn(new Rng(2), 2, N).Span;
        k[5] = 0;
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < C; c++)
                for (int p = 0; p < N; p++) v.Span[Index(b, c, p)] = k[b * N + p] * a.Span[Index(b, c, p)];
        return (v, a);
    }

    /// <summary>Random v orthogonal to a random a at every position.</summary>
    private static (Tensor V, Tensor A) Orthogonal() => OrthogonalTo(Tensor.Randn(new Rng(3), Shape));

    private static void AssertClose(float[] expected, Tensor actual, float tol = 1e-5f)
    {
        var got = actual.ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] expected {expected[i]}, got {got[i]}");
    }

    [Fact]
    public void ParallelVelocityIsUnchanged()
    {
        var (v, a) = Parallel();
        AssertClose(v.ToArray(), VelocityRegularization.Apply(v, a, 0.1));
        AssertClose(v.ToArray(), VelocityRegularization.Apply(v, a, 0.0)); // only the projection: still all of v
    }

    [Fact]
    public void OrthogonalVelocityIsScaledByGamma()
    {
        var (v, a) = Orthogonal();
        Assert.Contains(v.ToArray(), x => Math.Abs(x) > 0.1f);
        AssertClose(v.ToArray().Select(x => 0.1f * x).ToArray(), VelocityRegularization.Apply(v, a, 0.1));
        AssertClose(v.ToArray().Select(x => 0.37f * x).ToArray(), VelocityRegularization.Apply(v, a, 0.37));
    }

    [Fact]
    public void MixtureKeepsTheParallelPartAndDampsTheRest()
    {
        var (p, a) = Parallel();
        var (q, _) = OrthogonalTo(a);
        var v = Ops.Add(p, q);
        var expected = p.ToArray().Zip(q.ToArray(), (x, y) => x + 0.1f * y).ToArray();
        AssertClose(expected, VelocityRegularization.Apply(v, a, 0.1), 1e-4f);
        AssertClose(v.ToArray(), VelocityRegularization.Apply(v, a, 1.0)); // gamma 1: identity
    }

    /// <summary>Random v with its projection on <paramref name="a"/> removed at every position (Gram-Schmidt in double).</summary>
    private static (Tensor V, Tensor A) OrthogonalTo(Tensor a)
    {
        var v = Tensor.Randn(new Rng(9), Shape);
        for (int b = 0; b < 2; b++)
            for (int p = 0; p < N; p++)
            {
                double dot = 0, nn = 0;
                for (int c = 0; c < C; c++) { dot += (double)v.Span[Index(b, c, p)] * a.Span[Index(b, c, p)]; nn += (double)a.Span[Index(b, c, p)] * a.Span[Index(b, c, p)]; }
                for (int c = 0; c < C; c++) v.Span[Index(b, c, p)] -= (float)(dot / nn * a.Span[Index(b, c, p)]);
            }
        return (v, a);
    }

    [Fact]
    public void ZeroAverageLeavesGammaTimesVelocity()
    {
        var v = Tensor.Randn(new Rng(5), Shape);
        AssertClose(v.ToArray().Select(x => 0.1f * x).ToArray(), VelocityRegularization.Apply(v, Tensor.Zeros(Shape), 0.1));
    }

    [Fact]
    public void AverageVelocityIsTheStraightLineFromTheStart()
    {
        var zT = Tensor.Randn(new Rng(6), Shape);
        var u = Tensor.Randn(new Rng(7), Shape);
        // Euler along a constant u from t0 = 0.999 to t = 0.8: z = zT + (t - t0) u, so the average is u
        var z = Ops.Add(zT, Ops.MulScalar(u, (float)(0.8 - 0.999)));
        AssertClose(u.ToArray(), VelocityRegularization.AverageVelocity(z, zT, 0.8, 0.999), 1e-4f);
        Assert.Throws<ArgumentException>(() => VelocityRegularization.AverageVelocity(z, zT, 0.999, 0.999));
    }

    [Fact]
    public void BadShapesThrow()
    {
        var v = Tensor.Randn(new Rng(8), Shape);
        Assert.Throws<ArgumentException>(() => VelocityRegularization.Apply(v, Tensor.Zeros(2, 4, 3, 2, 2), 0.1));
        Assert.Throws<ArgumentException>(() => VelocityRegularization.Apply(Tensor.Zeros(4, 3), Tensor.Zeros(4, 3), 0.1));
        Assert.Throws<ArgumentException>(() => VelocityRegularization.AverageVelocity(v, Tensor.Zeros(1, 4, 3, 2, 3), 0.5, 0.9));
    }
}
