using FlowGuide.Tensors;

namespace FlowGuide.Tensors.Tests;

/// <summary>The platform-independent log/sin/cos agree with the platform libm to ~1e-14 relative (in practice ~2e-16).</summary>
public class DeterministicMathTests
{
    private const double Tol = 1e-14;

    private static void AssertRel(double expected, double actual, string what)
    {
        if (expected == actual) return;
        double rel = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(rel <= Tol, $"{what}: got {actual:R}, libm {expected:R} (relative error {rel:E2})");
    }

    [Fact]
    public void LogMatchesLibmAcrossAllMagnitudes()
    {
        var rnd = new Random(1);
        for (int i = 0; i < 200_000; i++)
        {
            // Random bits over the whole positive range, including subnormals.
            double x = BitConverter.Int64BitsToDouble(rnd.NextInt64(1, 0x7FF0000000000000L));
            AssertRel(Math.Log(x), DeterministicMath.Log(x), $"Log({x:R})");
            double y = 1 + (rnd.NextDouble() - 0.5) * 1e-3; // near 1, where the result is small
            AssertRel(Math.Log(y), DeterministicMath.Log(y), $"Log({y:R})");
        }
        Assert.Equal(double.NegativeInfinity, DeterministicMath.Log(0));
        Assert.Equal(double.PositiveInfinity, DeterministicMath.Log(double.PositiveInfinity));
        Assert.True(double.IsNaN(DeterministicMath.Log(-1)));
        Assert.True(double.IsNaN(DeterministicMath.Log(double.NaN)));
        Assert.Equal(0.0, DeterministicMath.Log(1));
        Assert.Equal(Math.Log(double.Epsilon), DeterministicMath.Log(double.Epsilon), 1e-12);
    }

    [Fact]
    public void SinCosMatchLibm()
    {
        var rnd = new Random(2);
        for (int i = 0; i < 200_000; i++)
        {
            double x = (rnd.NextDouble() - 0.5) * Math.Pow(10, rnd.Next(-8, 7)); // up to 5e5
            var (s, c) = DeterministicMath.SinCos(x);
            AssertRel(Math.Sin(x), s, $"Sin({x:R})");
            AssertRel(Math.Cos(x), c, $"Cos({x:R})");
        }
        Assert.Equal(-0.0, DeterministicMath.Sin(-0.0));
        Assert.True(double.IsNegative(DeterministicMath.Sin(-0.0)));
        Assert.Equal(1.0, DeterministicMath.Cos(0));
        Assert.True(double.IsNaN(DeterministicMath.Sin(double.PositiveInfinity)));
        Assert.True(double.IsNaN(DeterministicMath.Cos(double.NaN)));
    }

    [Fact]
    public void ReductionIsExactNearMultiplesOfHalfPi()
    {
        // sin(k pi) for the double nearest k pi is tiny; a sloppy reduction would lose all its relative accuracy.
        for (int k = 1; k < 100_000; k += 7)
        {
            double x = k * Math.PI;
            AssertRel(Math.Sin(x), DeterministicMath.Sin(x), $"Sin({k} pi)");
            double y = (k - 0.5) * Math.PI;
            AssertRel(Math.Cos(y), DeterministicMath.Cos(y), $"Cos({k - 0.5} pi)");
        }
    }

    [Fact]
    public void LargeArgumentsUseExactReduction()
    {
        var rnd = new Random(3);
        for (int i = 0; i < 20_000; i++)
        {
            double x = Math.Pow(10, 6 + rnd.NextDouble() * 302) * (rnd.Next(2) * 2 - 1);
            var (s, c) = DeterministicMath.SinCos(x);
            AssertRel(Math.Sin(x), s, $"Sin({x:R})");
            AssertRel(Math.Cos(x), c, $"Cos({x:R})");
        }
        // Around the boundary between the two reductions.
        for (double x = 1.5e6; x < 1.7e6; x += 977.123)
            AssertRel(Math.Sin(x), DeterministicMath.Sin(x), $"Sin({x:R})");
        AssertRel(Math.Sin(double.MaxValue), DeterministicMath.Sin(double.MaxValue), "Sin(MaxValue)");
    }

    [Fact]
    public void CosOfIntegerTurnsMatchesLibm()
    {
        var rnd = new Random(4);
        var special = new uint[] { 0, 1, 1u << 29, (1u << 29) - 1, (1u << 29) + 1, 1u << 30, 1u << 31, 3u << 30, 0xFFFFFFFF, 0xE0000000, 0x20000000 };
        foreach (uint b in special.Concat(Enumerable.Range(0, 200_000).Select(_ => (uint)rnd.NextInt64(0, 1L << 32))))
        {
            double expected = Math.Cos(2 * Math.PI * (b / 4294967296.0));
            double actual = DeterministicMath.CosTurns(b);
            Assert.True(Math.Abs(actual - expected) <= 1e-15, $"CosTurns({b:X8}): got {actual:R}, libm {expected:R}");
        }
        Assert.Equal(1.0, DeterministicMath.CosTurns(0));
        Assert.Equal(-1.0, DeterministicMath.CosTurns(1u << 31));
        Assert.Equal(0.0, DeterministicMath.CosTurns(1u << 30)); // exact zero from the integer reduction
    }
}
