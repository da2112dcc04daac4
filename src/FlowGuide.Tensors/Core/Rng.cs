using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

/// <summary>
/// The complete state of an <see cref="Rng"/>: its seed and how many 32-bit words of its stream have been consumed.
/// Save it with a training checkpoint and assign it back to <see cref="Rng.State"/> to resume the exact stream.
/// </summary>
public readonly record struct RngState(ulong Seed, ulong Position);

/// <summary>
/// A seedable counter-based random generator (Philox4x32-10) whose draws are bit-identical on every machine, OS, JIT
/// and thread count for the same seed.
/// </summary>
/// <remarks>
/// <para>The stream is a sequence of 32-bit words: word p is lane p mod 4 of Philox4x32-10 applied to the 128-bit
/// counter (p / 4 as a little-endian 64-bit number, 0, 0) under the 64-bit key <see cref="RngState.Seed"/>. Because
/// any word can be computed directly from its index, large fills are split across threads and give exactly the serial
/// result, and the state is just (seed, position).</para>
/// <para>Draw costs: <see cref="Uniform"/> and <see cref="NextUInt32"/> take one word, <see cref="UniformDouble"/>,
/// <see cref="Normal()"/> and <see cref="NextUInt64"/> two, <see cref="NextInt(int)"/> one or more (rejection).
/// Fills take the same number of words per element as the scalar draw, in order, so n calls to <see cref="Normal()"/>
/// equal one <see cref="FillNormal(Span{float})"/> of length n.</para>
/// <para>Normals use the cosine branch of Box–Muller with the log and cosine of <see cref="DeterministicMath"/>, never
/// the platform's libm. An instance is not thread-safe; give each thread its own or split work through the fills.</para>
/// </remarks>
public sealed class Rng
{
    private ulong _seed, _position;
    // Cache of the last Philox block used by the scalar draws; derived from the state, not part of it.
    private ulong _cachedBlock;
    private bool _cacheValid;
    private uint _b0, _b1, _b2, _b3;

    private const float Inv24 = 1f / 16777216f;          // 2^-24
    private const double Inv32 = 1.0 / 4294967296.0;     // 2^-32
    private const double Inv53 = 1.0 / 9007199254740992.0; // 2^-53
    private const int ParallelMinElements = 1 << 14;

    public Rng(ulong seed) => _seed = seed;

    /// <summary>A generator whose key is the two's-complement bits of <paramref name="seed"/> (so -1 and ulong.MaxValue agree).</summary>
    public Rng(long seed) : this(unchecked((ulong)seed)) { }

    /// <summary>A generator positioned exactly where <paramref name="state"/> says.</summary>
    public Rng(RngState state) => State = state;

    /// <summary>Seed and position; setting it moves this generator to that point of that stream.</summary>
    public RngState State
    {
        get => new(_seed, _position);
        set { _seed = value.Seed; _position = value.Position; _cacheValid = false; }
    }

    public ulong Seed => _seed;

    /// <summary>Number of 32-bit words consumed since the seed.</summary>
    public ulong Position => _position;

    /// <summary>An independent copy at the same state.</summary>
    public Rng Clone() => new(State);

    /// <summary>Skips <paramref name="words"/> 32-bit words, as if that many had been drawn.</summary>
    public void Advance(ulong words) => _position += words;

    // ---------------------------------------------------------------- scalar draws

    public uint NextUInt32()
    {
        ulong block = _position >> 2;
        if (!_cacheValid || block != _cachedBlock)
        {
            Philox.Block((uint)block, (uint)(block >> 32), 0, 0, (uint)_seed, (uint)(_seed >> 32), out _b0, out _b1, out _b2, out _b3);
            _cachedBlock = block;
            _cacheValid = true;
        }
        uint w = (_position & 3) switch { 0 => _b0, 1 => _b1, 2 => _b2, _ => _b3 };
        _position++;
        return w;
    }

    /// <summary>Two words, the first in the high half.</summary>
    public ulong NextUInt64() => ((ulong)NextUInt32() << 32) | NextUInt32();

    /// <summary>Uniform on [0, 1): the top 24 bits of one word times 2^-24, so every value is exact and 1 never occurs.</summary>
    public float Uniform() => (NextUInt32() >> 8) * Inv24;

    /// <summary>Uniform on [0, 1) with 53 random bits (27 from the first word, 26 from the second).</summary>
    public double UniformDouble()
    {
        ulong a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return ((a << 26) | b) * Inv53;
    }

    /// <summary>A standard normal draw (two words).</summary>
    public float Normal()
    {
        uint a = NextUInt32(), b = NextUInt32();
        return (float)NormalFromWords(a, b);
    }

    /// <summary>A normal draw with the given mean and standard deviation, computed in double and rounded once.</summary>
    public float Normal(float mean, float std)
    {
        CheckStd(std, nameof(Normal));
        uint a = NextUInt32(), b = NextUInt32();
        return (float)(mean + std * NormalFromWords(a, b));
    }

    /// <summary>Uniform integer in [0, <paramref name="maxExclusive"/>) without modulo bias (Lemire's multiply-and-reject).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Rng.NextInt: maxExclusive must be positive, got {maxExclusive}.");
        uint s = (uint)maxExclusive;
        ulong m = (ulong)NextUInt32() * s;
        uint low = (uint)m;
        if (low < s)
        {
            uint threshold = (0u - s) % s; // 2^32 mod s
            while (low < threshold)
            {
                m = (ulong)NextUInt32() * s;
                low = (uint)m;
            }
        }
        return (int)(m >> 32);
    }

    /// <summary>Uniform integer in [<paramref name="minInclusive"/>, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int minInclusive, int maxExclusive)
    {
        long range = (long)maxExclusive - minInclusive;
        if (range <= 0 || range > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Rng.NextInt: range [{minInclusive}, {maxExclusive}) must be non-empty and at most int.MaxValue wide.");
        return minInclusive + NextInt((int)range);
    }

    /// <summary>Shuffles in place with Fisher–Yates (from the last element down, j = NextInt(i + 1)).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A random permutation of 0..n-1 (the identity shuffled by <see cref="Shuffle{T}(Span{T})"/>), e.g. for data order.</summary>
    public int[] Permutation(int n)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"Rng.Permutation: n must be non-negative, got {n}.");
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        Shuffle(p.AsSpan());
        return p;
    }

    // ---------------------------------------------------------------- fills

    /// <summary>Fills with <see cref="Uniform"/> draws (one word each); large spans are filled in parallel with identical results.</summary>
    public void FillUniform(Span<float> destination) => FillUniform(destination, 0f, 1f);

    /// <summary>
    /// Fills with uniform draws on [lo, hi): lo + (hi - lo) * u in double, rounded once, and clamped below hi when rounding
    /// would reach it.
    /// </summary>
    public void FillUniform(Span<float> destination, float lo, float hi)
    {
        if (!float.IsFinite(lo) || !float.IsFinite(hi) || !(lo <= hi))
            throw new ArgumentException($"Rng.FillUniform: need finite lo <= hi, got [{lo}, {hi}).");
        ulong start = _position;
        _position += (ulong)destination.Length;
        Run(destination, 1, (dst, offset) => UniformRange(_seed, start + offset, dst, lo, hi));
    }

    /// <summary>Fills with standard normal draws (two words each); large spans are filled in parallel with identical results.</summary>
    public void FillNormal(Span<float> destination) => FillNormal(destination, 0f, 1f);

    /// <summary>Fills with mean + std * z, z standard normal, computed in double and rounded once.</summary>
    public void FillNormal(Span<float> destination, float mean, float std)
    {
        CheckStd(std, nameof(FillNormal));
        if (!float.IsFinite(mean)) throw new ArgumentException($"Rng.FillNormal: mean must be finite, got {mean}.");
        ulong start = _position;
        _position += 2 * (ulong)destination.Length;
        Run(destination, 2, (dst, offset) => NormalRange(_seed, start + offset, dst, mean, std));
    }

    private delegate void RangeFill(Span<float> destination, ulong wordOffset);

    /// <summary>Runs <paramref name="fill"/> over the whole span, or over contiguous pieces on several threads.</summary>
    private static unsafe void Run(Span<float> destination, int wordsPerElement, RangeFill fill)
    {
        int n = destination.Length;
        if (n < 2 * ParallelMinElements || Parallelism.NumThreads <= 1)
        {
            fill(destination, 0);
            return;
        }
        fixed (float* p = destination)
        {
            float* p0 = p;
            Parallelism.For(n, ParallelMinElements, (s, e) =>
                fill(new Span<float>(p0 + s, e - s), (ulong)s * (ulong)wordsPerElement));
        }
    }

    // ---------------------------------------------------------------- stream kernels (stateless)

    /// <summary>Writes words position .. position + n - 1 of stream <paramref name="seed"/>.</summary>
    internal static void Words(ulong seed, ulong position, Span<uint> destination)
    {
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        ulong block = position >> 2;
        int skip = (int)(position & 3), i = 0, n = destination.Length;
        while (i < n)
        {
            Philox.Block((uint)block, (uint)(block >> 32), 0, 0, k0, k1, out uint r0, out uint r1, out uint r2, out uint r3);
            block++;
            if (skip == 0 && n - i >= 4)
            {
                destination[i] = r0; destination[i + 1] = r1; destination[i + 2] = r2; destination[i + 3] = r3;
                i += 4;
                continue;
            }
            for (int lane = skip; lane < 4 && i < n; lane++)
                destination[i++] = lane switch { 0 => r0, 1 => r1, 2 => r2, _ => r3 };
            skip = 0;
        }
    }

    private static void UniformRange(ulong seed, ulong position, Span<float> destination, float lo, float hi)
    {
        Span<uint> buf = stackalloc uint[256];
        bool unit = lo == 0f && hi == 1f;
        double width = (double)hi - lo;
        for (int off = 0; off < destination.Length; off += buf.Length)
        {
            int len = Math.Min(buf.Length, destination.Length - off);
            var w = buf[..len];
            Words(seed, position + (ulong)off, w);
            var d = destination.Slice(off, len);
            if (unit)
            {
                for (int i = 0; i < len; i++) d[i] = (w[i] >> 8) * Inv24;
            }
            else
            {
                for (int i = 0; i < len; i++)
                {
                    float v = (float)(lo + width * ((w[i] >> 8) * (double)Inv24));
                    d[i] = v < hi ? v : (lo < hi ? MathF.BitDecrement(hi) : lo);
                }
            }
        }
    }

    private static void NormalRange(ulong seed, ulong position, Span<float> destination, float mean, float std)
    {
        Span<uint> buf = stackalloc uint[256];
        bool standard = mean == 0f && std == 1f;
        for (int off = 0; off < destination.Length; off += buf.Length / 2)
        {
            int len = Math.Min(buf.Length / 2, destination.Length - off);
            var w = buf[..(2 * len)];
            Words(seed, position + 2 * (ulong)off, w);
            var d = destination.Slice(off, len);
            for (int i = 0; i < len; i++)
            {
                double z = NormalFromWords(w[2 * i], w[2 * i + 1]);
                d[i] = standard ? (float)z : (float)(mean + std * z);
            }
        }
    }

    /// <summary>Box–Muller, cosine branch: sqrt(-2 ln u1) cos(2 pi u2), u1 = (a + 1) 2^-32 in (0, 1], u2 = b 2^-32.</summary>
    internal static double NormalFromWords(uint a, uint b)
    {
        double u1 = ((ulong)a + 1) * Inv32;
        return Math.Sqrt(-2.0 * DeterministicMath.Log(u1)) * DeterministicMath.CosTurns(b);
    }

    private static void CheckStd(float std, string op)
    {
        if (!float.IsFinite(std) || std < 0)
            throw new ArgumentException($"Rng.{op}: standard deviation must be finite and non-negative, got {std}.");
    }
}

/// <summary>The Philox4x32-10 block function (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).</summary>
internal static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;  // round multipliers
    private const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;  // Weyl key increments

    /// <summary>Ten rounds on the 128-bit counter (c0..c3) under the 64-bit key (k0, k1).</summary>
    public static void Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, out uint r0, out uint r1, out uint r2, out uint r3)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            c1 = (uint)p1;
            c3 = (uint)p0;
            c0 = n0;
            c2 = n2;
        }
        r0 = c0; r1 = c1; r2 = c2; r3 = c3;
    }
}
