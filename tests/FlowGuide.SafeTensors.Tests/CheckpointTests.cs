using System.Text;
using FlowGuide.Tensors;

namespace FlowGuide.SafeTensors.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static List<(string Name, Tensor Tensor)> Weights(int count, int size) =>
        Enumerable.Range(0, count).Select(i => ($"blocks.{i}.weight", Tensor.FromArray(TestFiles.Randn(i, size), size))).ToList();

    [Fact]
    public void ShardedWriteAndReadRoundTrip()
    {
        var weights = Weights(7, 100); // 400 bytes each as F32
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        string index = SafeTensorsWriter.WriteSharded(_dir.Path, "diffusion_pytorch_model", weights, maxShardBytes: 1000, meta);
        Assert.Equal(_dir.File("diffusion_pytorch_model.safetensors.index.json"), index);
        var shardFiles = Directory.GetFiles(_dir.Path, "*.safetensors").Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["diffusion_pytorch_model-00001-of-00004.safetensors", "diffusion_pytorch_model-00002-of-00004.safetensors",
                      "diffusion_pytorch_model-00003-of-00004.safetensors", "diffusion_pytorch_model-00004-of-00004.safetensors"], shardFiles);

        foreach (var path in new[] { index, _dir.Path })
        {
            using var ckpt = SafeTensorsCheckpoint.Open(path);
            Assert.Equal(index, ckpt.IndexPath);
            Assert.Equal(4, ckpt.Shards.Count);
            Assert.Equal(7, ckpt.Tensors.Count);
            Assert.Equal("2800", ckpt.Metadata["total_size"]);
            Assert.Equal("pt", ckpt.Metadata["format"]);
            Assert.Equal("pt", ckpt.Shards[0].Metadata["format"]);
            foreach (var (name, t) in weights)
            {
                Assert.Equal(t.ToArray(), ckpt.Load(name).ToArray());
                var dst = new float[100];
                ckpt.LoadInto(name, dst);
                Assert.Equal(t.ToArray(), dst);
                Assert.Equal(new Shape(100), ckpt.GetInfo(name).Shape);
            }
            Assert.Throws<KeyNotFoundException>(() => ckpt.Load("missing"));
        }
    }

    [Fact]
    public void ShardsHoldWholeTensorsAndOversizedTensorsGetTheirOwnShard()
    {
        var entries = new[]
        {
            SafeTensorsEntry.FromTensor("a", Tensor.Ones(10), DType.BF16),     // 20 bytes
            SafeTensorsEntry.FromTensor("b", Tensor.Ones(100), DType.F32),     // 400 bytes, > max
            SafeTensorsEntry.FromInt64("c", [1, 2], new Shape(2)),             // 16 bytes
            SafeTensorsEntry.FromBool("d", [true], new Shape(1)),              // 1 byte
        };
        string index = SafeTensorsWriter.WriteSharded(_dir.Path, "model", entries, maxShardBytes: 64);
        using var ckpt = SafeTensorsCheckpoint.Open(index);
        Assert.Equal(3, ckpt.Shards.Count);
        Assert.Equal(["a"], ckpt.Shards[0].Names);
        Assert.Equal(["b"], ckpt.Shards[1].Names);
        Assert.Equal(["c", "d"], ckpt.Shards[2].Names);
        Assert.Equal(new long[] { 1, 2 }, ckpt.LoadInt64("c"));
        Assert.Equal(new[] { true }, ckpt.LoadBool("d"));
        Assert.Equal(DType.BF16, ckpt.GetInfo("a").DType);
    }

    [Fact]
    public void OpenAcceptsASingleFileOrADirectoryWithOne()
    {
        string sub = Path.Combine(_dir.Path, "vae");
        Directory.CreateDirectory(sub);
        string file = Path.Combine(sub, "diffusion_pytorch_model.safetensors");
        SafeTensorsWriter.Write(file, [("x", Tensor.Ones(3))], new Dictionary<string, string> { ["m"] = "1" });
        File.WriteAllText(Path.Combine(sub, "config.json"), "{}");
        foreach (var path in new[] { file, sub })
        {
            using var ckpt = SafeTensorsCheckpoint.Open(path);
            Assert.Null(ckpt.IndexPath);
            Assert.Equal(["x"], ckpt.Names);
            Assert.Equal("1", ckpt.Metadata["m"]);
            Assert.Equal(3, ckpt.Load("x").Numel);
        }
        // A second safetensors file with a non-standard name: the standard one wins.
        SafeTensorsWriter.Write(Path.Combine(sub, "diffusion_pytorch_model.fp16.safetensors"), [("x", Tensor.Ones(3))], storeAs: DType.F16);
        using (var ckpt = SafeTensorsCheckpoint.Open(sub)) Assert.Equal(DType.F32, ckpt.GetInfo("x").DType);
        File.Delete(file);
        SafeTensorsWriter.Write(Path.Combine(sub, "other.safetensors"), [("x", Tensor.Ones(3))]);
        Assert.Contains("several", Assert.Throws<ArgumentException>(() => SafeTensorsCheckpoint.Open(sub)).Message);
        Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.Open(Path.Combine(_dir.Path, "nothing-here")));
        string emptyDir = Path.Combine(_dir.Path, "empty");
        Directory.CreateDirectory(emptyDir);
        Assert.Contains("no *.safetensors", Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.Open(emptyDir)).Message);
    }

    private string WriteIndex(string json)
    {
        string path = _dir.File("model.safetensors.index.json");
        File.WriteAllText(path, json, new UTF8Encoding(false));
        return path;
    }

    private void WriteShards()
    {
        SafeTensorsWriter.Write(_dir.File("s1.safetensors"), [("a", Tensor.Ones(2)), ("b", Tensor.Ones(2))]);
        SafeTensorsWriter.Write(_dir.File("s2.safetensors"), [("c", Tensor.Ones(2))]);
    }

    [Fact]
    public void HandWrittenIndexWithNonStringMetadataAndExtraShardTensors()
    {
        WriteShards();
        // "b" is in s1 but not listed: shards' own tensors are all included.
        string index = WriteIndex("{\"metadata\": {\"total_size\": 24, \"nested\": {\"x\": [1]}}, \"weight_map\": {\"c\": \"s2.safetensors\", \"a\": \"./s1.safetensors\"}}");
        using var ckpt = SafeTensorsCheckpoint.Open(index);
        Assert.Equal("24", ckpt.Metadata["total_size"]);
        Assert.Equal("{\"x\": [1]}", ckpt.Metadata["nested"]);
        Assert.Equal(["c", "a", "b"], ckpt.Names);
        Assert.Equal(2, ckpt.Shards.Count);
    }

    [Theory]
    [InlineData("{\"weight_map\": {\"a\": \"s1.safetensors\", \"z\": \"s1.safetensors\"}}", "puts tensor \"z\" in 's1.safetensors', which has no such tensor")]
    [InlineData("{\"weight_map\": {\"a\": \"s1.safetensors\", \"a\": \"s1.safetensors\"}}", "duplicate tensor \"a\" in \"weight_map\"")]
    [InlineData("{\"metadata\": {}}", "has no \"weight_map\"")]
    [InlineData("{\"weight_map\": []}", "\"weight_map\" must be an object")]
    [InlineData("{\"weight_map\": {\"a\": 1}}", "must be a shard file name string")]
    [InlineData("{\"weight_map\": {\"a\": \"../s1.safetensors\"}}", "not a relative file name")]
    [InlineData("{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "not a relative file name")]
    [InlineData("{\"weight_map\": {\"a\": \"\"}}", "not a relative file name")]
    [InlineData("{\"weight_map\": {}, \"metadata\": 3}", "\"metadata\" must be an object")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("{\"weight_map\": {\"a\": \"s1.safetensors\"}", "not valid JSON")]
    [InlineData("{\"weight_map\": {}, \"weight_map\": {}}", "duplicate key \"weight_map\"")]
    public void IndexValidationErrors(string json, string fragment)
    {
        WriteShards();
        string index = WriteIndex(json);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(index));
        Assert.Contains(fragment, e.Message);
        Assert.Contains(index, e.Message);
    }

    [Fact]
    public void TensorInTwoShardsIsRejected()
    {
        WriteShards();
        SafeTensorsWriter.Write(_dir.File("s3.safetensors"), [("a", Tensor.Ones(2))]);
        string index = WriteIndex("{\"weight_map\": {\"b\": \"s1.safetensors\", \"a\": \"s3.safetensors\"}}");
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(index));
        Assert.Contains("tensor \"a\" is in two shards, 's1.safetensors' and 's3.safetensors'", e.Message);
    }

    [Fact]
    public void MissingOrCorruptShard()
    {
        WriteShards();
        string index = WriteIndex("{\"weight_map\": {\"a\": \"s1.safetensors\", \"x\": \"gone.safetensors\"}}");
        var missing = Assert.Throws<FileNotFoundException>(() => SafeTensorsCheckpoint.Open(index));
        Assert.Contains("gone.safetensors", missing.Message);
        File.WriteAllBytes(_dir.File("gone.safetensors"), [1, 2, 3]);
        var corrupt = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsCheckpoint.Open(index));
        Assert.Contains("gone.safetensors", corrupt.Message);
        // The shard opened before the failure was released: it can be replaced.
        SafeTensorsWriter.Write(_dir.File("s1.safetensors"), [("a", Tensor.Ones(2))]);
    }

    [Fact]
    public void ShardedWriterValidatesArguments()
    {
        var w = Weights(2, 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => SafeTensorsWriter.WriteSharded(_dir.Path, "m", w, 0));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.WriteSharded(_dir.Path, "a/b", w, 100));
        Assert.Contains("total_size", Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.WriteSharded(_dir.Path, "m", w, 100, new Dictionary<string, string> { ["total_size"] = "1" })).Message);
        Assert.Contains("duplicate", Assert.Throws<ArgumentException>(() =>
            SafeTensorsWriter.WriteSharded(_dir.Path, "m", [w[0], w[0]], 100)).Message);
        Assert.Empty(Directory.GetFiles(_dir.Path));
    }
}
