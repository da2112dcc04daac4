using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// One tensor to write with <see cref="SafeTensorsWriter"/>: float data encoded to a chosen dtype on write, or raw
/// little-endian bytes of any dtype stored as they are.
/// </summary>
/// <remarks>
/// Float sources are read when the file is written, not when the entry is made, so a tensor must stay alive (and
/// unchanged) until then. Encoding goes through <see cref="DTypeConvert.FromFloat"/>: F16/BF16 round to nearest even,
/// integer dtypes truncate toward zero and saturate.
/// </remarks>
public sealed class SafeTensorsEntry
{
    private readonly Tensor? _tensor;
    private readonly ReadOnlyMemory<float> _floats;
    private readonly ReadOnlyMemory<byte> _raw;

    private SafeTensorsEntry(string name, DType dtype, Shape shape, Tensor? tensor, ReadOnlyMemory<float> floats, ReadOnlyMemory<byte> raw, bool isRaw)
    {
        ArgumentNullException.ThrowIfNull(name);
        _ = dtype.ElementSize(); // rejects values outside the enum
        Name = name;
        DType = dtype;
        Shape = shape;
        _tensor = tensor;
        _floats = floats;
        _raw = raw;
        IsRaw = isRaw;
        long count = ElementCount(shape);
        if (isRaw && raw.Length != count * dtype.ElementSize())
            throw new ArgumentException(
                $"SafeTensorsEntry \"{name}\": {raw.Length} bytes do not match shape {shape} of {dtype.SafetensorsName()} ({count} elements, {count * dtype.ElementSize()} bytes).");
        if (!isRaw && tensor is null && floats.Length != count)
            throw new ArgumentException($"SafeTensorsEntry \"{name}\": {floats.Length} floats do not fill shape {shape} ({count} elements).");
    }

    public string Name { get; }

    /// <summary>The dtype the tensor is stored as.</summary>
    public DType DType { get; }

    public Shape Shape { get; }

    /// <summary>True when the entry holds raw bytes written unchanged; false when float data is encoded on write.</summary>
    public bool IsRaw { get; }

    /// <summary>Bytes the tensor takes in the file.</summary>
    public long ByteLength => ElementCount(Shape) * DType.ElementSize();

    /// <summary>A float tensor, encoded as <paramref name="storeAs"/> when written.</summary>
    public static SafeTensorsEntry FromTensor(string name, Tensor tensor, DType storeAs = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new SafeTensorsEntry(name, storeAs, tensor.Shape, tensor, default, default, isRaw: false);
    }

    /// <summary>Float values of the given shape, encoded as <paramref name="storeAs"/> when written.</summary>
    public static SafeTensorsEntry FromFloats(string name, ReadOnlyMemory<float> values, Shape shape, DType storeAs = DType.F32) =>
        new(name, storeAs, shape, null, values, default, isRaw: false);

    /// <summary>Raw little-endian bytes of <paramref name="dtype"/>, stored unchanged; the length must match the shape exactly.</summary>
    public static SafeTensorsEntry FromBytes(string name, DType dtype, Shape shape, ReadOnlyMemory<byte> bytes) =>
        new(name, dtype, shape, null, default, bytes, isRaw: true);

    /// <summary>An I64 tensor (e.g. token ids, step counters) stored exactly.</summary>
    public static SafeTensorsEntry FromInt64(string name, ReadOnlySpan<long> values, Shape shape)
    {
        var bytes = new byte[values.Length * 8L];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return FromBytes(name, DType.I64, shape, bytes);
    }

    /// <summary>An I32 tensor stored exactly.</summary>
    public static SafeTensorsEntry FromInt32(string name, ReadOnlySpan<int> values, Shape shape)
    {
        var bytes = new byte[values.Length * 4L];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return FromBytes(name, DType.I32, shape, bytes);
    }

    /// <summary>A BOOL tensor, one byte (0 or 1) per element.</summary>
    public static SafeTensorsEntry FromBool(string name, ReadOnlySpan<bool> values, Shape shape)
    {
        var bytes = new byte[values.Length];
        for (int i = 0; i < values.Length; i++) bytes[i] = values[i] ? (byte)1 : (byte)0;
        return FromBytes(name, DType.Bool, shape, bytes);
    }

    /// <summary>A U8 tensor stored exactly.</summary>
    public static SafeTensorsEntry FromUInt8(string name, ReadOnlyMemory<byte> values, Shape shape) => FromBytes(name, DType.U8, shape, values);

    /// <summary>Writes the encoded bytes to <paramref name="stream"/>, converting floats in chunks through <paramref name="scratch"/>.</summary>
    internal void WriteData(Stream stream, byte[] scratch)
    {
        if (IsRaw)
        {
            stream.Write(_raw.Span);
            return;
        }
        ReadOnlySpan<float> src = _tensor is not null ? _tensor.Span : _floats.Span;
        if (src.Length != ElementCount(Shape))
            throw new InvalidOperationException($"SafeTensorsEntry \"{Name}\": the source tensor changed size since the entry was made.");
        if (DType == DType.F32 && BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(src));
            return;
        }
        int size = DType.ElementSize();
        int chunk = scratch.Length / size;
        for (int i = 0; i < src.Length; i += chunk)
        {
            int n = Math.Min(chunk, src.Length - i);
            var dst = scratch.AsSpan(0, n * size);
            DTypeConvert.FromFloat(src.Slice(i, n), DType, dst);
            stream.Write(dst);
        }
    }

    private static long ElementCount(Shape shape)
    {
        long n = 1;
        try
        {
            foreach (int d in shape.Dims) n = checked(n * d);
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"SafeTensorsEntry: shape {shape} has more elements than a file can hold.");
        }
        return n;
    }

    public override string ToString() => $"{Name}: {DType.SafetensorsName()} {Shape}{(IsRaw ? " (raw)" : "")}";
}
