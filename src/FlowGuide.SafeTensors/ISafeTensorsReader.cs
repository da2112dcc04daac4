using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// Read access to named tensors of a SafeTensors checkpoint, one file (<see cref="SafeTensorsFile"/>) or several shards
/// (<see cref="SafeTensorsCheckpoint"/>). Everything is validated at open; loads read only the bytes of the tensor asked for.
/// </summary>
/// <remarks>
/// Unknown names throw <see cref="KeyNotFoundException"/>; a destination of the wrong size or a raw load of the wrong dtype
/// throws <see cref="ArgumentException"/>. Loads from several threads at once are safe; loads racing with
/// <see cref="IDisposable.Dispose"/> are not.
/// </remarks>
public interface ISafeTensorsReader : IDisposable
{
    /// <summary>All tensors, in data order (file by file for a sharded checkpoint).</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>Tensor names, in the same order as <see cref="Tensors"/>.</summary>
    IEnumerable<string> Names { get; }

    /// <summary>The string metadata: a file's <c>__metadata__</c>, or a sharded index's <c>metadata</c> object.</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    bool Contains(string name);

    bool TryGetInfo(string name, out TensorInfo info);

    /// <summary>The entry for <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the file when absent.</summary>
    TensorInfo GetInfo(string name);

    /// <summary>Converts the tensor (any dtype) to float32 in a new tensor of its shape.</summary>
    Tensor Load(string name);

    /// <summary>Converts the tensor straight from the file into <paramref name="destination"/>, which must have exactly its element count.</summary>
    void LoadInto(string name, Span<float> destination);

    /// <summary>The elements of an I64 tensor, without going through float.</summary>
    long[] LoadInt64(string name);

    /// <summary>The elements of an I32 tensor, without going through float.</summary>
    int[] LoadInt32(string name);

    /// <summary>The elements of an F64 tensor at full precision.</summary>
    double[] LoadFloat64(string name);

    /// <summary>The elements of a BOOL tensor (any non-zero byte is true).</summary>
    bool[] LoadBool(string name);

    /// <summary>The raw little-endian bytes of a tensor of any dtype (for U8 these are the values).</summary>
    byte[] LoadBytes(string name);

    /// <summary>Copies the raw little-endian bytes of a tensor into <paramref name="destination"/>, which must be exactly its byte length.</summary>
    void CopyBytesTo(string name, Span<byte> destination);
}
