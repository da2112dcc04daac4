using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// One tensor entry of a validated SafeTensors header.
/// </summary>
/// <param name="Name">The tensor's name (the header key).</param>
/// <param name="DType">The on-disk element type.</param>
/// <param name="Shape">The shape; rank 0 is a scalar (one element), a 0 anywhere makes an empty tensor.</param>
/// <param name="DataBegin">Start of the bytes, relative to the start of the data section (the byte after the header).</param>
/// <param name="DataEnd">End of the bytes (exclusive), relative to the start of the data section.</param>
/// <param name="FileOffset">Absolute position of the first byte in the file (8 + header length + <paramref name="DataBegin"/>).</param>
/// <param name="FilePath">The file that holds the bytes (the shard, for a sharded checkpoint).</param>
public sealed record TensorInfo(string Name, DType DType, Shape Shape, long DataBegin, long DataEnd, long FileOffset, string FilePath)
{
    /// <summary>Number of bytes on disk (<see cref="DataEnd"/> − <see cref="DataBegin"/>).</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>Number of elements as a 64-bit count (the header allows more than a float buffer can hold).</summary>
    public long ElementCount => ByteLength / DType.ElementSize();

    public override string ToString() => $"{Name}: {DType.SafetensorsName()} {Shape} @ [{DataBegin}, {DataEnd})";
}
