using System.Text.Json;
using System.Text.Unicode;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors;

/// <summary>
/// A checkpoint that may be split over several SafeTensors shards, presented as one set of named tensors.
/// </summary>
/// <remarks>
/// <para><see cref="Open"/> accepts a <c>.safetensors</c> file, a Hugging Face / diffusers index
/// (<c>*.safetensors.index.json</c>: <c>{"metadata": {...}, "weight_map": {"tensor": "shard.safetensors"}}</c>), or a
/// directory holding one of them (e.g. <c>diffusion_pytorch_model.safetensors[.index.json]</c>).</para>
/// <para>With an index, every shard it names is opened and validated, every name in the weight map must be in the shard it
/// names, and no tensor name may appear in two shards; tensors a shard holds beyond the weight map are included.
/// Violations throw <see cref="SafeTensorsFormatException"/> naming the index. Non-string index metadata values (such
/// as <c>total_size</c>) are exposed as their JSON text.</para>
/// </remarks>
public sealed class SafeTensorsCheckpoint : ISafeTensorsReader
{
    /// <summary>File names preferred when a directory holds several candidates (diffusers, then transformers).</summary>
    private static readonly string[] PreferredNames = ["diffusion_pytorch_model", "model"];

    private const string IndexSuffix = ".safetensors.index.json";

    private readonly List<SafeTensorsFile> _shards;
    private readonly List<TensorInfo> _tensors;
    private readonly Dictionary<string, SafeTensorsFile> _owner;
    private readonly Dictionary<string, string> _metadata;
    private bool _disposed;

    private SafeTensorsCheckpoint(string? indexPath, List<SafeTensorsFile> shards, Dictionary<string, SafeTensorsFile> owner, Dictionary<string, string> metadata)
    {
        IndexPath = indexPath;
        _shards = shards;
        _owner = owner;
        _metadata = metadata;
        _tensors = shards.SelectMany(s => s.Tensors).ToList();
    }

    /// <summary>The index file, or null for a single-file checkpoint.</summary>
    public string? IndexPath { get; }

    /// <summary>The opened shard files (one for a single-file checkpoint), in the order the index first names them.</summary>
    public IReadOnlyList<SafeTensorsFile> Shards => _shards;

    public IReadOnlyList<TensorInfo> Tensors => _tensors;

    public IEnumerable<string> Names => _tensors.Select(t => t.Name);

    public IReadOnlyDictionary<string, string> Metadata => _metadata;

    /// <summary>Opens a file, an index, or a directory containing either (see the type's remarks for how a directory is resolved).</summary>
    public static SafeTensorsCheckpoint Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Resolve(Path.GetFullPath(path));
        if (full.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            return OpenIndex(full);
        var file = SafeTensorsFile.Open(full);
        var owner = file.Tensors.ToDictionary(t => t.Name, _ => file, StringComparer.Ordinal);
        return new SafeTensorsCheckpoint(null, [file], owner, new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal));
    }

    /// <summary>A file path stays as it is; a directory resolves to its index (preferred) or its single safetensors file.</summary>
    private static string Resolve(string path)
    {
        if (File.Exists(path)) return path;
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"SafeTensorsCheckpoint.Open: '{path}' is neither a file nor a directory.", path);
        var index = Pick(Directory.GetFiles(path, "*" + IndexSuffix), IndexSuffix, path);
        if (index is not null) return index;
        var single = Pick(Directory.GetFiles(path, "*.safetensors"), ".safetensors", path);
        return single ?? throw new FileNotFoundException(
            $"SafeTensorsCheckpoint.Open: directory '{path}' holds no *.safetensors file and no *{IndexSuffix} index.", path);
    }

    private static string? Pick(string[] candidates, string suffix, string dir)
    {
        if (candidates.Length == 0) return null;
        if (candidates.Length == 1) return candidates[0];
        foreach (var preferred in PreferredNames)
        {
            var hit = candidates.FirstOrDefault(c => string.Equals(Path.GetFileName(c), preferred + suffix, StringComparison.Ordinal));
            if (hit is not null) return hit;
        }
        Array.Sort(candidates, StringComparer.Ordinal);
        throw new ArgumentException(
            $"SafeTensorsCheckpoint.Open: directory '{dir}' holds several *{suffix} files ({string.Join(", ", candidates.Select(Path.GetFileName))}) " +
            "and none has a standard name; pass the one to open.", "path");
    }

    private static SafeTensorsCheckpoint OpenIndex(string indexPath)
    {
        var (weightMap, metadata) = ParseIndex(indexPath);
        string dir = Path.GetDirectoryName(indexPath)!;
        var shards = new List<SafeTensorsFile>();
        try
        {
            // Keyed by full path so that "a.safetensors" and "./a.safetensors" are one shard.
            var byFile = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var (_, shardName) in weightMap)
            {
                string shardPath = Path.GetFullPath(Path.Combine(dir, shardName));
                if (byFile.ContainsKey(shardPath)) continue;
                var shard = SafeTensorsFile.Open(shardPath);
                shards.Add(shard);
                byFile.Add(shardPath, shard);
            }
            foreach (var (name, shardName) in weightMap)
                if (!byFile[Path.GetFullPath(Path.Combine(dir, shardName))].Contains(name))
                    throw Fail(indexPath, $"the weight map puts tensor \"{SafeTensorsHeader.Escape(name)}\" in '{shardName}', which has no such tensor.");
            var owner = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var shard in shards)
                foreach (var t in shard.Tensors)
                    if (!owner.TryAdd(t.Name, shard))
                        throw Fail(indexPath,
                            $"tensor \"{SafeTensorsHeader.Escape(t.Name)}\" is in two shards, '{Path.GetFileName(owner[t.Name].FilePath)}' and '{Path.GetFileName(shard.FilePath)}'.");
            return new SafeTensorsCheckpoint(indexPath, shards, owner, metadata);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    /// <summary>Parses an index with a streaming reader so that duplicate keys are caught; returns the weight map in file order.</summary>
    internal static (List<(string Name, string Shard)> WeightMap, Dictionary<string, string> Metadata) ParseIndex(string indexPath)
    {
        byte[] bytes;
        using (var stream = new FileStream(indexPath, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            if (stream.Length > SafeTensorsHeader.MaxHeaderBytes)
                throw Fail(indexPath, $"the index is {stream.Length} bytes, more than the {SafeTensorsHeader.MaxHeaderBytes} allowed.");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        ReadOnlySpan<byte> json = bytes;
        if (json.StartsWith("\uFEFF"u8)) json = json[3..];
        if (!Utf8.IsValid(json)) throw Fail(indexPath, "the index is not valid UTF-8.");
        try
        {
            return ParseIndexJson(json, indexPath);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw Fail(indexPath, $"the index is not valid JSON ({e.Message}).", e);
        }
    }

    private static (List<(string, string)>, Dictionary<string, string>) ParseIndexJson(ReadOnlySpan<byte> json, string indexPath)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw Fail(indexPath, "the index must be a JSON object with a \"weight_map\".");
        List<(string, string)>? weightMap = null;
        Dictionary<string, string>? metadata = null;
        var seenTop = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader, indexPath) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            if (!seenTop.Add(key)) throw Fail(indexPath, $"duplicate key \"{SafeTensorsHeader.Escape(key)}\" in the index.");
            Next(ref reader, indexPath);
            switch (key)
            {
                case "weight_map":
                    weightMap = ReadWeightMap(ref reader, indexPath);
                    break;
                case "metadata":
                    metadata = ReadMetadata(ref reader, indexPath);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }
        if (reader.Read()) throw Fail(indexPath, "unexpected content after the index object.");
        if (weightMap is null) throw Fail(indexPath, "the index has no \"weight_map\".");
        return (weightMap, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
    }

    private static List<(string, string)> ReadWeightMap(ref Utf8JsonReader reader, string indexPath)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(indexPath, "\"weight_map\" must be an object mapping tensor names to shard file names.");
        var map = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader, indexPath) != JsonTokenType.EndObject)
        {
            string name = reader.GetString()!;
            if (!seen.Add(name)) throw Fail(indexPath, $"duplicate tensor \"{SafeTensorsHeader.Escape(name)}\" in \"weight_map\".");
            if (Next(ref reader, indexPath) != JsonTokenType.String)
                throw Fail(indexPath, $"\"weight_map\" entry \"{SafeTensorsHeader.Escape(name)}\" must be a shard file name string.");
            string shard = reader.GetString()!;
            CheckShardName(shard, name, indexPath);
            map.Add((name, shard));
        }
        return map;
    }

    /// <summary>Shard names are plain relative paths: no rooted paths and no ".." segments that would leave the index's directory.</summary>
    private static void CheckShardName(string shard, string tensor, string indexPath)
    {
        bool bad = shard.Length == 0 || Path.IsPathRooted(shard) || shard.IndexOf('\0') >= 0 ||
                   shard.Split('/', '\\').Any(seg => seg == "..");
        if (bad)
            throw Fail(indexPath, $"\"weight_map\" entry \"{SafeTensorsHeader.Escape(tensor)}\" names shard \"{SafeTensorsHeader.Escape(shard)}\", which is not a relative file name inside the index's directory.");
    }

    private static Dictionary<string, string> ReadMetadata(ref Utf8JsonReader reader, string indexPath)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (reader.TokenType == JsonTokenType.Null) return metadata;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Fail(indexPath, "\"metadata\" must be an object.");
        while (Next(ref reader, indexPath) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            Next(ref reader, indexPath);
            string value = reader.TokenType == JsonTokenType.String
                ? reader.GetString()!
                : JsonElement.ParseValue(ref reader).GetRawText();
            if (!metadata.TryAdd(key, value)) throw Fail(indexPath, $"duplicate key \"{SafeTensorsHeader.Escape(key)}\" in \"metadata\".");
        }
        return metadata;
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader, string path)
    {
        if (!reader.Read()) throw Fail(path, "the index JSON ends early.");
        return reader.TokenType;
    }

    private static SafeTensorsFormatException Fail(string path, string problem, Exception? inner = null) => new(path, problem, inner);

    // ---------------------------------------------------------------- reading

    private SafeTensorsFile Owner(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_owner.TryGetValue(name, out var file)) return file;
        throw new KeyNotFoundException(
            $"SafeTensors: checkpoint '{IndexPath ?? _shards[0].FilePath}' has no tensor named \"{SafeTensorsHeader.Escape(name)}\" ({_tensors.Count} tensors).");
    }

    public bool Contains(string name) => _owner.ContainsKey(name);

    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_owner.TryGetValue(name, out var file)) return file.TryGetInfo(name, out info);
        info = null!;
        return false;
    }

    public TensorInfo GetInfo(string name) => Owner(name).GetInfo(name);

    public Tensor Load(string name) => Owner(name).Load(name);

    public void LoadInto(string name, Span<float> destination) => Owner(name).LoadInto(name, destination);

    public long[] LoadInt64(string name) => Owner(name).LoadInt64(name);

    public int[] LoadInt32(string name) => Owner(name).LoadInt32(name);

    public double[] LoadFloat64(string name) => Owner(name).LoadFloat64(name);

    public bool[] LoadBool(string name) => Owner(name).LoadBool(name);

    /// <summary>The raw bytes straight from the owning shard's mapping; valid only until this checkpoint is disposed (see <see cref="SafeTensorsFile.GetRawSpan"/>).</summary>
    public ReadOnlySpan<byte> GetRawSpan(string name) => Owner(name).GetRawSpan(name);

    public byte[] LoadBytes(string name) => Owner(name).LoadBytes(name);

    public void CopyBytesTo(string name, Span<byte> destination) => Owner(name).CopyBytesTo(name, destination);

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var s in _shards) s.Dispose();
    }

    public override string ToString() =>
        $"SafeTensorsCheckpoint('{IndexPath ?? _shards[0].FilePath}', {_shards.Count} shard(s), {_tensors.Count} tensors)";
}
