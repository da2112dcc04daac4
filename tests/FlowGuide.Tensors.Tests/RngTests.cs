using FlowGuide.Tensors;
using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors.Tests;

[Collection(ThreadCountCollection.Name)]
public class RngTests
{
    // ---------------------------------------------------------------- Philox known answers (Random123 kat_vectors)

    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void PhiloxMatchesKnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        Philox.Block(c0, c1, c2, c3, k0, k1, out uint r0, out uint r1, out uint r2, out uint r3);
        Assert.Equal(new[] { e0, e1, e2, e3 }, new[] { r0, r1, r2, r3 });
    }

    [Fact]
    public void StreamWordsAreLanesOfCounterBlocks()
    {
        ulong seed = 0x0123456789ABCDEFUL;
        var words = new uint[11];
        Rng.Words(seed, 5, words); // starts at lane 1 of block 1
        var rng = new Rng(seed);
        rng.Advance(5);
        for (int i = 0; i < words.Length; i++)
        {
            ulong p = 5 + (ulong)i, block = p >> 2;
            Philox.Block((uint)block, (uint)(block >> 32), 0, 0, (uint)seed, (uint)(seed >> 32), out uint r0, out uint r1, out uint r2, out uint r3);
            Assert.Equal(new[] { r0, r1, r2, r3 }[p & 3], words[i]);
            Assert.Equal(words[i], rng.NextUInt32());
        }
        // The high half of the block index goes into counter word 1.
        var far = new uint[1];
        Rng.Words(0, (1UL << 34) + 2, far);
        Philox.Block(0, 1, 0, 0, 0, 0, out _, out _, out uint lane2, out _);
        Assert.Equal(lane2, far[0]);
    }

    // ---------------------------------------------------------------- golden values: any cross-machine drift fails here

    [Theory]
    [InlineData(0UL,
        new uint[] { 0x3ECC4FD0, 0x3F6169C5, 0x3F3C57AC, 0x3F1B00DB, 0x3F78E4CC, 0x3EB96400, 0x3F31A574, 0x3D17EFF0 },
        new uint[] { 0x3F7DBB33, 0xBF1E1B9F, 0xBE1D5357, 0x3F54EC98, 0xBF97DA93, 0xBE8A0F90, 0xBF186C98, 0xBF661976 })]
    [InlineData(12345UL,
        new uint[] { 0x3F51FA3E, 0x3E3DFFA8, 0x3F52CA96, 0x3F6328BB, 0x3B366900, 0x3E13C25C, 0x3F649AD8, 0x3F255F2A },
        new uint[] { 0x3E7E0087, 0x3EF27EE4, 0x4007547E, 0xBE941C71, 0xBF1E888E, 0xBF321BA5, 0xBF2E96C6, 0xBF471CEC })]
    public void FirstDrawsAreBitExact(ulong seed, uint[] uniformBits, uint[] normalBits)
    {
        var u = new Rng(seed);
        var n = new Rng(seed);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(uniformBits[i], BitConverter.SingleToUInt32Bits(u.Uniform()));
            Assert.Equal(normalBits[i], BitConverter.SingleToUInt32Bits(n.Normal()));
        }
        // Sanity: the uniform goldens are the top 24 bits of the first stream words, and all values look like their laws.
        var w = new uint[8];
        Rng.Words(seed, 0, w);
        for (int i = 0; i < 8; i++)
        {
            float uf = BitConverter.UInt32BitsToSingle(uniformBits[i]);
            Assert.Equal((w[i] >> 8) / 16777216.0, uf);
            Assert.InRange(Math.Abs(BitConverter.UInt32BitsToSingle(normalBits[i])), 0f, 5f);
        }
        // The normal goldens agree with Box-Muller through the platform libm to float accuracy.
        var w2 = new uint[16];
        Rng.Words(seed, 0, w2);
        for (int i = 0; i < 8; i++)
        {
            double u1 = (w2[2 * i] + 1.0) / 4294967296.0, u2 = w2[2 * i + 1] / 4294967296.0;
            double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            Assert.Equal(z, BitConverter.UInt32BitsToSingle(normalBits[i]), 1e-6);
        }
    }

    // ---------------------------------------------------------------- distributions

    [Fact]
    public void NormalMomentsMatch()
    {
        const int n = 1_000_000;
        var x = new float[n];
        new Rng(2024).FillNormal(x);
        double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
        foreach (float v in x) m1 += v;
        m1 /= n;
        foreach (float v in x)
        {
            double d = v - m1, d2 = d * d;
            m2 += d2; m3 += d2 * d; m4 += d2 * d2;
        }
        m2 /= n; m3 /= n; m4 /= n;
        // Standard errors: mean 1e-3, variance 1.4e-3, skewness 2.4e-3, kurtosis 4.9e-3. Allow about five of them.
        Assert.InRange(m1, -0.005, 0.005);
        Assert.InRange(m2, 0.993, 1.007);
        Assert.InRange(m3 / Math.Pow(m2, 1.5), -0.012, 0.012);
        Assert.InRange(m4 / (m2 * m2), 2.975, 3.025);
        // Tail mass beyond 3 sigma: 0.0027 expected.
        int tail = x.Count(v => Math.Abs(v) > 3);
        Assert.InRange(tail / (double)n, 0.0024, 0.0030);
    }

    [Fact]
    public void UniformIsInRangeAndFlat()
    {
        const int n = 1_000_000, bins = 1000;
        var x = new float[n];
        new Rng(99).FillUniform(x);
        var counts = new int[bins];
        foreach (float v in x)
        {
            Assert.True(v >= 0f && v < 1f, $"uniform draw {v} outside [0, 1)");
            counts[(int)(v * bins)]++;
        }
        double expected = n / (double)bins, chi2 = 0;
        foreach (int c in counts) chi2 += (c - expected) * (c - expected) / expected;
        // 999 degrees of freedom: mean 999, sd 44.7.
        Assert.InRange(chi2, 999 - 6 * 44.7, 999 + 6 * 44.7);
        double mean = x.Average(v => (double)v);
        Assert.InRange(mean, 0.5 - 0.0015, 0.5 + 0.0015);
    }

    [Fact]
    public void NextIntIsUnbiasedAndInRange()
    {
        var rng = new Rng(5);
        const int draws = 70_000;
        var counts = new int[7];
        for (int i = 0; i < draws; i++) counts[rng.NextInt(7)]++;
        double expected = draws / 7.0, chi2 = counts.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.InRange(chi2, 0, 30); // 6 dof: p ~ 4e-5 at 30
        for (int i = 0; i < 1000; i++)
        {
            Assert.InRange(rng.NextInt(int.MaxValue), 0, int.MaxValue - 1);
            Assert.InRange(rng.NextInt(-3, 4), -3, 3);
        }
        Assert.Equal(0, rng.NextInt(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextInt(5, 5));
    }

    [Fact]
    public void PermutationIsAPermutationAndReproducible()
    {
        var p = new Rng(11).Permutation(1000);
        Assert.Equal(Enumerable.Range(0, 1000), p.OrderBy(v => v));
        Assert.NotEqual(Enumerable.Range(0, 1000), p);
        Assert.Equal(p, new Rng(11).Permutation(1000));
        var items = Enumerable.Range(0, 1000).ToArray();
        new Rng(11).Shuffle(items.AsSpan());
        Assert.Equal(p, items);
        Assert.Empty(new Rng(1).Permutation(0));
        // Each of the 6 orders of 3 items appears about equally often.
        var rng = new Rng(3);
        var seen = new Dictionary<string, int>();
        for (int i = 0; i < 6000; i++)
        {
            var key = string.Join(",", rng.Permutation(3));
            seen[key] = seen.GetValueOrDefault(key) + 1;
        }
        Assert.Equal(6, seen.Count);
        Assert.All(seen.Values, c => Assert.InRange(c, 850, 1150));
    }

    // ---------------------------------------------------------------- state, seeds, threads

    [Fact]
    public void SaveRestoreReproducesTheStream()
    {
        var rng = new Rng(77);
        rng.Normal(); rng.Uniform(); rng.NextInt(10);
        var saved = rng.State;
        var a = Draws(rng);
        rng.State = saved;
        Assert.Equal(a, Draws(rng));
        Assert.Equal(a, Draws(new Rng(saved)));
        var clone = new Rng(saved).Clone();
        Assert.Equal(a, Draws(clone));
        Assert.Equal(saved with { }, new RngState(77, saved.Position));

        static float[] Draws(Rng r)
        {
            var buf = new float[37];
            r.FillNormal(buf.AsSpan(0, 13));
            var list = buf.Take(13).ToList();
            list.Add(r.Uniform());
            list.Add(r.Normal(2f, 3f));
            list.Add(r.NextInt(1000));
            list.Add((float)r.UniformDouble());
            r.FillUniform(buf.AsSpan(0, 9), -2f, 5f);
            list.AddRange(buf.Take(9));
            return list.ToArray();
        }
    }

    [Fact]
    public void DifferentSeedsDiffer()
    {
        var a = Tensor.Randn(new Rng(1), 64).ToArray();
        var b = Tensor.Randn(new Rng(2), 64).ToArray();
        var c = Tensor.Randn(new Rng(1L << 32), 64).ToArray(); // the high key word matters too
        Assert.True(a.Zip(b).Count(p => p.First == p.Second) < 3);
        Assert.True(a.Zip(c).Count(p => p.First == p.Second) < 3);
        Assert.Equal(new Rng(-1).NextUInt32(), new Rng(ulong.MaxValue).NextUInt32());
    }

    [Fact]
    public void FillsEqualScalarDrawsAndAdvanceTheState()
    {
        var rng = new Rng(8);
        rng.Uniform(); // unaligned start
        var start = rng.State;
        var fill = new float[21];
        rng.FillNormal(fill);
        Assert.Equal(start.Position + 42, rng.Position);
        var scalar = new Rng(start);
        for (int i = 0; i < fill.Length; i++) Assert.Equal(scalar.Normal(), fill[i]);
        rng.FillUniform(fill);
        for (int i = 0; i < fill.Length; i++) Assert.Equal(scalar.Uniform(), fill[i]);
        Assert.Equal(scalar.State, rng.State);
    }

    [Fact]
    public void ParallelFillEqualsSerialFill()
    {
        const int n = 100_003;
        int saved = Parallelism.NumThreads;
        try
        {
            float[] Fill(int threads, bool normal)
            {
                Parallelism.NumThreads = threads;
                var rng = new Rng(31337);
                rng.NextUInt32(); // start mid-block
                var x = new float[n];
                if (normal) rng.FillNormal(x, 0.5f, 2f); else rng.FillUniform(x, -1f, 3f);
                Assert.Equal(1UL + (normal ? 2UL : 1UL) * n, rng.Position);
                return x;
            }
            Assert.Equal(Fill(1, true), Fill(2, true));
            Assert.Equal(Fill(1, false), Fill(2, false));
            Assert.Equal(Fill(1, true), Fill(3, true));
        }
        finally
        {
            Parallelism.NumThreads = saved;
        }
    }

    // ---------------------------------------------------------------- tensors

    [Fact]
    public void TensorCreationUsesTheStream()
    {
        var t = Tensor.Randn(new Rng(4), 3, 5, 7);
        Assert.Equal(new Shape(3, 5, 7), t.Shape);
        var x = new float[105];
        new Rng(4).FillNormal(x);
        Assert.Equal(x, t.ToArray());
        Assert.Equal(new Shape(3, 5, 7), Tensor.RandnLike(new Rng(4), t).Shape);

        var u = Tensor.Rand(new Rng(4), 10, 10);
        Assert.All(u.ToArray(), v => Assert.InRange(v, 0f, MathF.BitDecrement(1f)));
        var r = Tensor.RandUniform(new Rng(4), -3f, -2f, 1000);
        Assert.All(r.ToArray(), v => Assert.True(v >= -3f && v < -2f));
        Assert.Equal(Tensor.RandUniform(new Rng(4), 0f, 1f, 100).ToArray(), Tensor.Rand(new Rng(4), 100).ToArray());
        // A degenerate range is the constant; an inverted or infinite one is an error that names the op.
        Assert.All(Tensor.RandUniform(new Rng(4), 2f, 2f, 5).ToArray(), v => Assert.Equal(2f, v));
        var ex = Assert.Throws<ArgumentException>(() => Tensor.RandUniform(new Rng(4), 1f, 0f, 5));
        Assert.Contains("FillUniform", ex.Message);
        Assert.Throws<ArgumentException>(() => new Rng(1).FillNormal(new float[3], 0f, -1f));
        Assert.Throws<ArgumentException>(() => new Rng(1).FillUniform(new float[3], 0f, float.PositiveInfinity));
    }

    [Fact]
    public void UniformStaysBelowHiWhenRoundingWouldReachIt()
    {
        // The top-most uniform (1 - 2^-24) times a wide range can round up to hi in float; it must be clamped.
        var x = new float[200_000];
        new Rng(0).FillUniform(x, 1e7f, 1e7f + 2f);
        Assert.All(x, v => Assert.True(v >= 1e7f && v < 1e7f + 2f, $"{v}"));
    }
}
