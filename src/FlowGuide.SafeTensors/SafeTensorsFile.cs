using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// A read-only, memory-mapped SafeTensors file. <see cref="Open"/> reads and fully validates the header (and nothing
/// else); tensor bytes are read from the mapping only when a tensor is loaded, so opening a multi-gigabyte checkpoint costs
/// the header's size in managed memory.
/// </summary>
/// <remarks>
/// <para>Malformed content of any kind throws <see cref="SafeTensorsFormatException"/>; see that type. The file must not be
/// truncated or rewritten in place while it is open (a mapped page that disappears faults the process); writers in this
/// library replace files by rename, which is safe.</para>
/// <para>Only the dtypes of <see cref="DType"/> are accepted; a header naming any other (I8, U16, F8_E4M3, ...) is rejected at open.</para>
/// </remarks>
public sealed unsafe class SafeTensorsFile : ISafeTensorsReader
{
    /// <summary>Elements converted per call into <see cref="DTypeConvert"/>; keeps every span well under 2 GB.</summary>
    private const int ChunkElements = 1 << 26;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;
    private readonly List<TensorInfo> _tensors;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly Dictionary<string, string> _metadata;

    private SafeTensorsFile(string path, long length, long headerLength, List<TensorInfo> tensors, Dictionary<string, string> metadata,
        MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer)
    {
        FilePath = path;
        FileLength = length;
        HeaderLength = headerLength;
        _tensors = tensors;
        _metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        _map = map;
        _view = view;
        _base = basePointer;
    }

    /// <summary>Full path of the file.</summary>
    public string FilePath { get; }

    public long FileLength { get; }

    /// <summary>Length of the JSON header in bytes (the 8-byte length prefix not included).</summary>
    public long HeaderLength { get; }

    /// <summary>Absolute file offset of the data section.</summary>
    public long DataStart => 8 + HeaderLength;

    public IReadOnlyList<TensorInfo> Tensors => _tensors;

    public IEnumerable<string> Names => _tensors.Select(t => t.Name);

    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>Opens and validates <paramref name="path"/>. Throws <see cref="SafeTensorsFormatException"/> for malformed content and the usual IO exceptions (e.g. <see cref="FileNotFoundException"/>) otherwise.</summary>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        var stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1, FileOptions.RandomAccess);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool pointerAcquired = false;
        try
        {
            long length = stream.Length;
            if (length < 8)
                throw SafeTensorsHeader.Fail(full, $"the file is {length} bytes long, shorter than the 8-byte header length field.");
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(stream, 0, prefix, full);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (n > SafeTensorsHeader.MaxHeaderBytes)
                throw SafeTensorsHeader.Fail(full, $"the header length field says {n} bytes, more than the {SafeTensorsHeader.MaxHeaderBytes} allowed.");
            if ((long)n > length - 8)
                throw SafeTensorsHeader.Fail(full, $"the header length field says {n} bytes but only {length - 8} bytes follow it.");
            var header = new byte[(int)n];
            ReadExactly(stream, 8, header, full);
            long dataStart = 8 + (long)n;
            var (tensors, metadata) = SafeTensorsHeader.Parse(header, dataStart, length - dataStart, full);

            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            pointerAcquired = true;
            if ((long)view.SafeMemoryMappedViewHandle.ByteLength - view.PointerOffset < length)
                throw new IOException($"SafeTensors: '{full}': the mapped view is shorter than the file (was it truncated while opening?).");
            return new SafeTensorsFile(full, length, (long)n, tensors, metadata, map, view, p + view.PointerOffset);
        }
        catch
        {
            if (pointerAcquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            if (map is not null) map.Dispose(); // also closes the stream (leaveOpen: false)
            else stream.Dispose();
            throw;
        }
    }

    private static void ReadExactly(FileStream stream, long offset, Span<byte> buffer, string path)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int r = RandomAccess.Read(stream.SafeFileHandle, buffer[done..], offset + done);
            if (r == 0) throw SafeTensorsHeader.Fail(path, "the file ended while reading the header (was it truncated?).");
            done += r;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGetInfo(string name, out TensorInfo info) => _byName.TryGetValue(name, out info!);

    public TensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var info)) return info;
        throw new KeyNotFoundException($"SafeTensors: '{FilePath}' has no tensor named \"{SafeTensorsHeader.Escape(name)}\" ({_tensors.Count} tensors).");
    }

    /// <summary>Converts the tensor to float32 in a new pooled tensor (from <see cref="Tensor.Empty(Shape)"/>, so it joins the current <see cref="TensorScope"/>).</summary>
    public Tensor Load(string name)
    {
        var info = GetInfo(name);
        CheckFitsBuffer(info, nameof(Load));
        var t = Tensor.Empty(info.Shape);
        try
        {
            LoadInto(info, t.Span);
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    public void LoadInto(string name, Span<float> destination) => LoadInto(GetInfo(name), destination);

    /// <summary>Converts <paramref name="info"/> (an entry of this file) into <paramref name="destination"/>.</summary>
    public void LoadInto(TensorInfo info, Span<float> destination)
    {
        byte* src = Locate(info);
        long count = info.ElementCount;
        if (destination.Length != count)
            throw new ArgumentException(
                $"SafeTensors.LoadInto: tensor \"{SafeTensorsHeader.Escape(info.Name)}\" {info.Shape} has {count} elements but the destination holds {destination.Length}.",
                nameof(destination));
        int size = info.DType.ElementSize();
        for (long i = 0; i < count; i += ChunkElements)
        {
            int n = (int)Math.Min(ChunkElements, count - i);
            DTypeConvert.ToFloat(new ReadOnlySpan<byte>(src + i * size, n * size), info.DType, destination.Slice((int)i, n));
        }
    }

    /// <summary>
    /// The raw bytes of <paramref name="name"/>, straight from the mapping: no copy, valid only until this file is disposed.
    /// Tensors of 2 GB or more cannot be returned as one span and throw <see cref="NotSupportedException"/>.
    /// </summary>
    public ReadOnlySpan<byte> GetRawSpan(string name)
    {
        var info = GetInfo(name);
        byte* src = Locate(info);
        if (info.ByteLength > int.MaxValue)
            throw new NotSupportedException($"SafeTensors.GetRawSpan: tensor \"{SafeTensorsHeader.Escape(name)}\" is {info.ByteLength} bytes, too large for one span.");
        return new ReadOnlySpan<byte>(src, (int)info.ByteLength);
    }

    public long[] LoadInt64(string name) => LoadTyped<long>(name, DType.I64);

    public int[] LoadInt32(string name) => LoadTyped<int>(name, DType.I32);

    public double[] LoadFloat64(string name) => LoadTyped<double>(name, DType.F64);

    public bool[] LoadBool(string name)
    {
        var bytes = LoadTyped<byte>(name, DType.Bool);
        var result = new bool[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) result[i] = bytes[i] != 0;
        return result;
    }

    public byte[] LoadBytes(string name)
    {
        var info = GetInfo(name);
        if (info.ByteLength > Array.MaxLength)
            throw new NotSupportedException($"SafeTensors.LoadBytes: tensor \"{SafeTensorsHeader.Escape(name)}\" is {info.ByteLength} bytes, more than an array can hold.");
        var result = GC.AllocateUninitializedArray<byte>((int)info.ByteLength);
        CopyBytesTo(info, result);
        return result;
    }

    public void CopyBytesTo(string name, Span<byte> destination) => CopyBytesTo(GetInfo(name), destination);

    private void CopyBytesTo(TensorInfo info, Span<byte> destination)
    {
        byte* src = Locate(info);
        if (destination.Length != info.ByteLength)
            throw new ArgumentException(
                $"SafeTensors.CopyBytesTo: tensor \"{SafeTensorsHeader.Escape(info.Name)}\" is {info.ByteLength} bytes but the destination holds {destination.Length}.",
                nameof(destination));
        new ReadOnlySpan<byte>(src, destination.Length).CopyTo(destination);
    }

    private T[] LoadTyped<T>(string name, DType expected) where T : unmanaged
    {
        var info = GetInfo(name);
        if (info.DType != expected)
            throw new ArgumentException(
                $"SafeTensors: tensor \"{SafeTensorsHeader.Escape(name)}\" in '{FilePath}' is {info.DType.SafetensorsName()}, not {expected.SafetensorsName()}; use Load for a float32 conversion.",
                nameof(name));
        if (info.ElementCount > Array.MaxLength)
            throw new NotSupportedException($"SafeTensors: tensor \"{SafeTensorsHeader.Escape(name)}\" has {info.ElementCount} elements, more than an array can hold.");
        var result = GC.AllocateUninitializedArray<T>((int)info.ElementCount);
        var bytes = MemoryMarshal.AsBytes(result.AsSpan());
        CopyBytesTo(info, bytes);
        if (!BitConverter.IsLittleEndian && sizeof(T) == 8)
            BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, long>(result.AsSpan()), MemoryMarshal.Cast<T, long>(result.AsSpan()));
        else if (!BitConverter.IsLittleEndian && sizeof(T) == 4)
            BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<T, int>(result.AsSpan()), MemoryMarshal.Cast<T, int>(result.AsSpan()));
        return result;
    }

    /// <summary>Pointer to the first byte of <paramref name="info"/>, after checking the file is open and the entry is one of ours.</summary>
    private byte* Locate(TensorInfo info)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (!_byName.TryGetValue(info.Name, out var own) || !own.Equals(info))
            throw new ArgumentException($"SafeTensors: the entry for \"{SafeTensorsHeader.Escape(info.Name)}\" does not belong to '{FilePath}'.", nameof(info));
        return _base + info.FileOffset;
    }

    internal static void CheckFitsBuffer(TensorInfo info, string op)
    {
        if (info.ElementCount > int.MaxValue)
            throw new NotSupportedException(
                $"SafeTensors.{op}: tensor \"{SafeTensorsHeader.Escape(info.Name)}\" {info.Shape} has {info.ElementCount} elements, more than one float32 tensor can hold.");
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    public override string ToString() => $"SafeTensorsFile('{FilePath}', {_tensors.Count} tensors, {FileLength} bytes)";
}
