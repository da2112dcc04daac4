using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// Writes SafeTensors files: the header lists tensors in ordinal name order (after <c>__metadata__</c>), is padded with
/// spaces to a multiple of 8 bytes, and the data follows tightly packed in the same order.
/// </summary>
/// <remarks>
/// <para>Every file is written to a temporary file in the target directory and renamed into place, so a failure (a bad
/// entry, a full disk, an exception from a tensor) never leaves a half-written file under the target name.</para>
/// <para>Names must be non-empty, unique and not <c>__metadata__</c>; violations throw <see cref="ArgumentException"/>
/// before any file is created.</para>
/// </remarks>
public static class SafeTensorsWriter
{
    private const int ScratchBytes = 1 << 20;

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // Names like "blocks.0.attn+ffn" stay readable; quotes, backslashes and control characters are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>Writes float tensors, each encoded as <paramref name="storeAs"/> (F32, F16 and BF16 are the usual choices).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, DType storeAs = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(t => SafeTensorsEntry.FromTensor(t.Name, t.Tensor, storeAs)), metadata);
    }

    /// <summary>Writes a name → tensor map (e.g. a module's state dict), each encoded as <paramref name="storeAs"/>.</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, DType storeAs = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(t => SafeTensorsEntry.FromTensor(t.Key, t.Value, storeAs)), metadata);
    }

    /// <summary>Writes entries of any dtype (float data to encode, or raw bytes).</summary>
    public static void Write(string path, IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var sorted = Prepare(entries, metadata, "SafeTensorsWriter.Write");
        WriteFile(Path.GetFullPath(path), sorted, metadata);
    }

    /// <summary>
    /// Splits the entries (in name order) over shards of at most <paramref name="maxShardBytes"/> of tensor data each
    /// (a larger tensor gets a shard of its own), written as <c>{baseName}-00001-of-0000N.safetensors</c>, plus the index
    /// <c>{baseName}.safetensors.index.json</c> whose <c>metadata</c> holds <c>total_size</c> and the given metadata.
    /// Each shard carries the metadata in its own header too. Returns the index path.
    /// </summary>
    /// <remarks>The index is written last, so a reader never sees an index naming shards that are not there yet. Shards
    /// left by an earlier write with a different shard count are not deleted.</remarks>
    public static string WriteSharded(string directory, string baseName, IEnumerable<SafeTensorsEntry> entries, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(baseName);
        if (baseName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || baseName.Contains('/') || baseName.Contains('\\'))
            throw new ArgumentException($"SafeTensorsWriter.WriteSharded: base name \"{baseName}\" must be a plain file name.", nameof(baseName));
        if (maxShardBytes <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxShardBytes), $"SafeTensorsWriter.WriteSharded: maxShardBytes must be positive, got {maxShardBytes}.");
        if (metadata is not null && metadata.ContainsKey("total_size"))
            throw new ArgumentException("SafeTensorsWriter.WriteSharded: metadata key \"total_size\" is reserved for the index.", nameof(metadata));
        var sorted = Prepare(entries, metadata, "SafeTensorsWriter.WriteSharded");

        var shards = new List<List<SafeTensorsEntry>>();
        var current = new List<SafeTensorsEntry>();
        long currentBytes = 0, total = 0;
        foreach (var e in sorted)
        {
            if (current.Count > 0 && currentBytes + e.ByteLength > maxShardBytes)
            {
                shards.Add(current);
                current = [];
                currentBytes = 0;
            }
            current.Add(e);
            currentBytes += e.ByteLength;
            total += e.ByteLength;
        }
        if (current.Count > 0 || shards.Count == 0) shards.Add(current);

        string dir = Path.GetFullPath(directory);
        Directory.CreateDirectory(dir);
        var weightMap = new List<(string Name, string File)>();
        for (int i = 0; i < shards.Count; i++)
        {
            string file = string.Create(CultureInfo.InvariantCulture, $"{baseName}-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            WriteFile(Path.Combine(dir, file), shards[i], metadata);
            foreach (var e in shards[i]) weightMap.Add((e.Name, file));
        }

        string indexPath = Path.Combine(dir, baseName + ".safetensors.index.json");
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions with { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            w.WriteNumber("total_size", total);
            foreach (var (k, v) in SortedMetadata(metadata)) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) w.WriteString(name, file);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        WriteAtomically(indexPath, stream => stream.Write(buffer.WrittenSpan));
        return indexPath;
    }

    /// <summary>Sharded write of float tensors, each encoded as <paramref name="storeAs"/>.</summary>
    public static string WriteSharded(string directory, string baseName, IEnumerable<(string Name, Tensor Tensor)> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null, DType storeAs = DType.F32)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        return WriteSharded(directory, baseName, tensors.Select(t => SafeTensorsEntry.FromTensor(t.Name, t.Tensor, storeAs)), maxShardBytes, metadata);
    }

    /// <summary>The header bytes (JSON padded with spaces to a multiple of 8) for entries already in file order.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<SafeTensorsEntry> sorted, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, JsonOptions))
        {
            w.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                w.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var (k, v) in SortedMetadata(metadata)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in sorted)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (int d in e.Shape.Dims) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.ByteLength;
            }
            w.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) & ~7;
        if (padded > SafeTensorsHeader.MaxHeaderBytes)
            throw new ArgumentException($"SafeTensorsWriter: the header would be {padded} bytes, more than the {SafeTensorsHeader.MaxHeaderBytes} the format allows.");
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static List<SafeTensorsEntry> Prepare(IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata, string op)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in list)
        {
            if (e is null) throw new ArgumentException($"{op}: an entry is null.", nameof(entries));
            if (e.Name.Length == 0) throw new ArgumentException($"{op}: tensor names must be non-empty.", nameof(entries));
            if (e.Name == SafeTensorsHeader.MetadataKey)
                throw new ArgumentException($"{op}: \"{SafeTensorsHeader.MetadataKey}\" is reserved and cannot name a tensor.", nameof(entries));
            CheckText(e.Name, op, "tensor name");
            if (!seen.Add(e.Name)) throw new ArgumentException($"{op}: duplicate tensor name \"{e.Name}\".", nameof(entries));
        }
        if (metadata is not null)
        {
            foreach (var (k, v) in metadata)
            {
                if (v is null) throw new ArgumentException($"{op}: metadata value for \"{k}\" is null.", nameof(metadata));
                CheckText(k, op, "metadata key");
                CheckText(v, op, "metadata value");
            }
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return list;
    }

    /// <summary>Rejects strings that have no UTF-8 form (lone surrogates), which JSON could not round-trip.</summary>
    private static void CheckText(string s, string op, string what)
    {
        if (s.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
        {
            try
            {
                _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetByteCount(s);
            }
            catch (EncoderFallbackException)
            {
                throw new ArgumentException($"{op}: {what} \"{SafeTensorsHeader.Escape(s)}\" is not valid Unicode (lone surrogate).");
            }
        }
    }

    private static IEnumerable<(string Key, string Value)> SortedMetadata(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is null ? [] : metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value));

    private static void WriteFile(string path, List<SafeTensorsEntry> sorted, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = BuildHeader(sorted, metadata);
        WriteAtomically(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            var scratch = ArrayPool<byte>.Shared.Rent(ScratchBytes);
            try
            {
                foreach (var e in sorted) e.WriteData(stream, scratch);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        });
    }

    /// <summary>Writes through a temporary file in the target's directory, flushes it to disk, then renames it over the target.</summary>
    private static void WriteAtomically(string path, Action<FileStream> write)
    {
        string dir = Path.GetDirectoryName(path)!;
        string temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
