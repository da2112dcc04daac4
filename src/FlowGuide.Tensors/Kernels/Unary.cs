using System.Numerics.Tensors;

namespace FlowGuide.Tensors.Kernels;

/// <summary>Unary elementwise functions.</summary>
public enum UnaryOp { Neg, Abs, Sign, Exp, Log, Sqrt, Rsqrt, Square, Tanh, Sigmoid, Relu, Silu, Gelu }

/// <summary>
/// Unary kernels: SIMD through System.Numerics.Tensors, processed in cache-sized chunks split across threads.
/// <see cref="ApplyScalar"/> is the plain twin (MathF per element) used by parity tests.
/// </summary>
public static class Unary
{
    private const int Chunk = 4096;
    internal const float GeluC = 0.7978845608028654f; // sqrt(2/pi)
    internal const float GeluA = 0.044715f;

    public static void Apply(UnaryOp op, ReadOnlySpan<float> src, Span<float> dst)
    {
        int n = src.Length;
        if (dst.Length < n) throw new ArgumentException($"Unary.{op}: destination holds {dst.Length} elements, expected {n}.");
        if (n <= Chunk) { ApplyChunk(op, src, dst[..n]); return; }
        unsafe
        {
            fixed (float* ps = src, pd = dst)
            {
                float* s0 = ps, d0 = pd;
                int chunks = (n + Chunk - 1) / Chunk;
                Parallelism.For(chunks, 8, (cs, ce) =>
                {
                    for (int c = cs; c < ce; c++)
                    {
                        int off = c * Chunk, len = Math.Min(Chunk, n - off);
                        ApplyChunk(op, new ReadOnlySpan<float>(s0 + off, len), new Span<float>(d0 + off, len));
                    }
                });
            }
        }
    }

    private static void ApplyChunk(UnaryOp op, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Sign:
                for (int i = 0; i < x.Length; i++) y[i] = Sign(x[i]);
                break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Rsqrt: TensorPrimitives.Sqrt(x, y); TensorPrimitives.Divide(1f, y, y); break;
            case UnaryOp.Square: TensorPrimitives.Multiply(x, x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, 0f, y); break;
            case UnaryOp.Silu:
                unsafe { fixed (float* px = x, py = y) Activations.Silu(px, py, x.Length); } // one fused pass; y may alias x
                break;
            case UnaryOp.Gelu:
                unsafe { fixed (float* px = x, py = y) Activations.Gelu(px, py, x.Length); } // x sigmoid(2u): no cancellation for x < 0
                break;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static float Sign(float v) => v > 0 ? 1f : v < 0 ? -1f : v; // keeps 0 and NaN

    /// <summary>The scalar definition of each function.</summary>
    public static float Apply(UnaryOp op, float x) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Abs => MathF.Abs(x),
        UnaryOp.Sign => Sign(x),
        UnaryOp.Exp => MathF.Exp(x),
        UnaryOp.Log => MathF.Log(x),
        UnaryOp.Sqrt => MathF.Sqrt(x),
        UnaryOp.Rsqrt => 1f / MathF.Sqrt(x),
        UnaryOp.Square => x * x,
        UnaryOp.Tanh => MathF.Tanh(x),
        UnaryOp.Sigmoid => 1f / (1f + MathF.Exp(-x)),
        UnaryOp.Relu => x > 0 || float.IsNaN(x) ? x : 0f, // NaN propagates, as in the SIMD kernel and PyTorch
        UnaryOp.Silu => x / (1f + MathF.Exp(-x)),
        UnaryOp.Gelu => x / (1f + MathF.Exp(-2f * GeluC * (x + GeluA * x * x * x))), // = 0.5 x (1 + tanh(c (x + a x^3)))
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Scalar twin of <see cref="Apply(UnaryOp, ReadOnlySpan{float}, Span{float})"/>.</summary>
    public static void ApplyScalar(UnaryOp op, ReadOnlySpan<float> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = Apply(op, src[i]);
    }

    /// <summary>dst = g * silu'(x), silu'(x) = s (1 + x (1 - s)) with s = sigmoid(x), one fused pass (<see cref="Activations"/>). dst may alias x or g.</summary>
    public static void SiluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dst) =>
        ChunkedPar(x, g, dst, static (xc, gc, dc) =>
        {
            unsafe { fixed (float* px = xc, pg = gc, pd = dc) Activations.SiluBackward(px, pg, pd, xc.Length); }
        });

    /// <summary>
    /// dst = g * gelu'(x) for the tanh form, written with s = sigmoid(2u) = 0.5 (1 + tanh u) to avoid cancellation:
    /// gelu'(x) = s + x s (1 - s) 2c (1 + 3a x^2), one fused pass (<see cref="Activations"/>). dst may alias x or g.
    /// </summary>
    public static void GeluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> g, Span<float> dst) =>
        ChunkedPar(x, g, dst, static (xc, gc, dc) =>
        {
            unsafe { fixed (float* px = xc, pg = gc, pd = dc) Activations.GeluBackward(px, pg, pd, xc.Length); }
        });

    internal delegate void ChunkFn(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst);

    internal static void ChunkedPar(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst, ChunkFn fn)
    {
        int n = a.Length;
        if (b.Length < n || dst.Length < n)
            throw new ArgumentException($"Unary backward: gradient holds {b.Length} and destination {dst.Length} elements, expected {n}.");
        unsafe
        {
            fixed (float* pa = a, pb = b, pd = dst)
            {
                float* a0 = pa, b0 = pb, d0 = pd;
                int chunks = (n + Chunk - 1) / Chunk;
                Parallelism.For(chunks, 8, (cs, ce) =>
                {
                    for (int c = cs; c < ce; c++)
                    {
                        int off = c * Chunk, len = Math.Min(Chunk, n - off);
                        fn(new ReadOnlySpan<float>(a0 + off, len), new ReadOnlySpan<float>(b0 + off, len), new Span<float>(d0 + off, len));
                    }
                });
            }
        }
    }
}
