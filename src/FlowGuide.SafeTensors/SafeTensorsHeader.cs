using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// Parses and completely validates a SafeTensors JSON header. Nothing is returned unless every entry is well formed and
/// the entries tile the data section exactly; every problem becomes a <see cref="SafeTensorsFormatException"/>.
/// </summary>
internal static class SafeTensorsHeader
{
    /// <summary>Largest header the format allows (same limit as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    public const string MetadataKey = "__metadata__";

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = 64,
    };

    /// <summary>
    /// Parses <paramref name="json"/>; <paramref name="dataStart"/> is the absolute file offset of the data section and
    /// <paramref name="dataLength"/> its length. Returns the tensors in data order and the metadata.
    /// </summary>
    public static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        ReadOnlySpan<byte> json, long dataStart, long dataLength, string path)
    {
        if (!Utf8.IsValid(json))
            throw Fail(path, "the header is not valid UTF-8.");
        if (json.Trim(" \t\r\n"u8).IsEmpty)
            throw Fail(path, "the header is empty.");
        try
        {
            return ParseJson(json, dataStart, dataLength, path);
        }
        catch (JsonException e)
        {
            throw Fail(path, $"the header is not valid JSON ({e.Message}).", e);
        }
        catch (InvalidOperationException e) // Utf8JsonReader.GetString on malformed escapes and similar
        {
            throw Fail(path, $"the header is not valid JSON ({e.Message}).", e);
        }
    }

    private static (List<TensorInfo>, Dictionary<string, string>) ParseJson(ReadOnlySpan<byte> json, long dataStart, long dataLength, string path)
    {
        var reader = new Utf8JsonReader(json, isFinalBlock: true, new JsonReaderState(ReaderOptions));
        if (!reader.Read())
            throw Fail(path, "the header is empty.");
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"the header must be a JSON object, found {Describe(reader.TokenType)}.");

        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string name = reader.GetString()!; // the reader guarantees a property name inside an object
            if (!seen.Add(name))
                throw Fail(path, $"duplicate key \"{Escape(name)}\" in the header.");
            Next(ref reader, path);
            if (name == MetadataKey)
            {
                ReadMetadata(ref reader, metadata, path);
                continue;
            }
            tensors.Add(ReadEntry(ref reader, name, dataStart, path));
        }
        // Anything after the root object other than whitespace makes Read throw a JsonException.
        if (reader.Read())
            throw Fail(path, "unexpected content after the header object.");

        CheckCoverage(tensors, dataLength, path);
        return (tensors, metadata);
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string path)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"\"{MetadataKey}\" must be an object of string values, found {Describe(reader.TokenType)}.");
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            Next(ref reader, path);
            if (reader.TokenType != JsonTokenType.String)
                throw Fail(path, $"\"{MetadataKey}\" value for \"{Escape(key)}\" must be a string, found {Describe(reader.TokenType)}.");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Fail(path, $"duplicate key \"{Escape(key)}\" in \"{MetadataKey}\".");
        }
    }

    private static TensorInfo ReadEntry(ref Utf8JsonReader reader, string name, long dataStart, string path)
    {
        string where = $"tensor \"{Escape(name)}\"";
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(path, $"{where} must be an object with dtype, shape and data_offsets, found {Describe(reader.TokenType)}.");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string field = reader.GetString()!;
            Next(ref reader, path);
            switch (field)
            {
                case "dtype":
                    if (dtypeName is not null) throw Fail(path, $"{where} has a duplicate \"dtype\".");
                    if (reader.TokenType != JsonTokenType.String)
                        throw Fail(path, $"{where}: \"dtype\" must be a string, found {Describe(reader.TokenType)}.");
                    dtypeName = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw Fail(path, $"{where} has a duplicate \"shape\".");
                    shape = ReadIntegerArray(ref reader, where, "shape", path);
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Fail(path, $"{where} has a duplicate \"data_offsets\".");
                    offsets = ReadIntegerArray(ref reader, where, "data_offsets", path);
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as in the reference implementation
                    break;
            }
        }
        if (dtypeName is null) throw Fail(path, $"{where} is missing \"dtype\".");
        if (shape is null) throw Fail(path, $"{where} is missing \"shape\".");
        if (offsets is null) throw Fail(path, $"{where} is missing \"data_offsets\".");

        var dtype = ParseDType(dtypeName) ??
            throw Fail(path, $"{where} has unknown dtype \"{Escape(dtypeName)}\"; supported: F32, F16, BF16, F64, I64, I32, U8, BOOL.");
        if (offsets.Count != 2)
            throw Fail(path, $"{where}: \"data_offsets\" must have exactly 2 entries [begin, end], found {offsets.Count}.");
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw Fail(path, $"{where}: data_offsets begin {begin} is greater than end {end}.");

        var dims = new int[shape.Count];
        bool empty = false;
        for (int i = 0; i < dims.Length; i++)
        {
            if (shape[i] > int.MaxValue)
                throw Fail(path, $"{where}: shape dimension {i} is {shape[i]}, larger than the supported maximum {int.MaxValue}.");
            dims[i] = (int)shape[i];
            empty |= dims[i] == 0;
        }
        long elementSize = dtype.ElementSize();
        long expected = elementSize;
        if (empty) expected = 0;
        else
        {
            foreach (int d in dims)
            {
                // Saturate rather than overflow: anything past long.MaxValue cannot match a real byte range anyway.
                expected = expected > long.MaxValue / d ? long.MaxValue : expected * d;
            }
        }
        if (expected != end - begin)
        {
            string count = expected == long.MaxValue ? "too many" : (expected / elementSize).ToString();
            throw Fail(path, $"{where}: shape [{string.Join(", ", dims)}] of {dtypeName} needs {count} elements " +
                (expected == long.MaxValue ? "" : $"({expected} bytes) ") + $"but data_offsets [{begin}, {end}] cover {end - begin} bytes.");
        }
        return new TensorInfo(name, dtype, new Shape(dims), begin, end, dataStart + begin, path);
    }

    private static List<long> ReadIntegerArray(ref Utf8JsonReader reader, string where, string field, string path)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Fail(path, $"{where}: \"{field}\" must be an array of non-negative integers, found {Describe(reader.TokenType)}.");
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, path);
            if (reader.TokenType == JsonTokenType.EndArray) return values;
            if (reader.TokenType != JsonTokenType.Number)
                throw Fail(path, $"{where}: \"{field}\" entries must be non-negative integers, found {Describe(reader.TokenType)}.");
            if (reader.TryGetInt64(out long v))
            {
                if (v < 0) throw Fail(path, $"{where}: \"{field}\" entry {values.Count} is negative ({v}).");
                values.Add(v);
                continue;
            }
            string raw = Encoding.UTF8.GetString(reader.ValueSpan);
            throw Fail(path, $"{where}: \"{field}\" entry {values.Count} ({Escape(raw)}) is not a non-negative integer in range.");
        }
    }

    /// <summary>Exact (case-sensitive) safetensors dtype names, as the reference implementation accepts them.</summary>
    internal static DType? ParseDType(string name) => name switch
    {
        "F32" => DType.F32,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "F64" => DType.F64,
        "I64" => DType.I64,
        "I32" => DType.I32,
        "U8" => DType.U8,
        "BOOL" => DType.Bool,
        _ => null,
    };

    /// <summary>The entries, sorted by offset, must tile [0, dataLength) with no gap, overlap or uncovered tail.</summary>
    private static void CheckCoverage(List<TensorInfo> tensors, long dataLength, string path)
    {
        foreach (var t in tensors)
            if (t.DataEnd > dataLength)
                throw Fail(path, $"tensor \"{Escape(t.Name)}\": data_offsets [{t.DataBegin}, {t.DataEnd}] run past the end of the data section ({dataLength} bytes).");
        // Stable sort by (begin, end); ties on both keep header order.
        var order = tensors.Select((t, i) => (t, i)).OrderBy(p => p.t.DataBegin).ThenBy(p => p.t.DataEnd).ThenBy(p => p.i).Select(p => p.t).ToList();
        long cursor = 0;
        TensorInfo? previous = null;
        foreach (var t in order)
        {
            if (t.DataBegin < cursor)
                throw Fail(path, $"tensor \"{Escape(t.Name)}\" [{t.DataBegin}, {t.DataEnd}) overlaps tensor \"{Escape(previous!.Name)}\" [{previous.DataBegin}, {previous.DataEnd}).");
            if (t.DataBegin > cursor)
                throw Fail(path, $"gap in the data section: bytes [{cursor}, {t.DataBegin}) before tensor \"{Escape(t.Name)}\" belong to no tensor.");
            cursor = t.DataEnd;
            previous = t;
        }
        if (cursor != dataLength)
            throw Fail(path, $"the data section has {dataLength} bytes but the tensors cover only [0, {cursor}); {dataLength - cursor} bytes at the end belong to no tensor.");
        tensors.Clear();
        tensors.AddRange(order);
    }

    private static void Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read())
            throw Fail(path, "the header JSON ends early.");
    }

    private static string Describe(JsonTokenType t) => t switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => t.ToString(),
    };

    /// <summary>Keeps names readable in messages: control characters escaped and very long names cut.</summary>
    internal static string Escape(string s)
    {
        var sb = new StringBuilder(Math.Min(s.Length, 120));
        foreach (char c in s)
        {
            if (sb.Length >= 120) { sb.Append("..."); break; }
            if (char.IsControl(c)) sb.Append($"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    internal static SafeTensorsFormatException Fail(string path, string problem, Exception? inner = null) => new(path, problem, inner);
}
