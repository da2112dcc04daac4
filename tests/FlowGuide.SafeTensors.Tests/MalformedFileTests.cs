using System.Text;

namespace FlowGuide.SafeTensors.Tests;

/// <summary>Every malformed-content case throws <see cref="SafeTensorsFormatException"/> naming the file and the problem.</summary>
public sealed class MalformedFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    private SafeTensorsFormatException AssertBad(byte[] bytes, string fragment)
    {
        string path = _dir.File(Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(fragment, e.Message);
        Assert.Contains(path, e.Message);
        Assert.Equal(path, e.FilePath);
        // The reader must have released the file: it can be deleted and re-created.
        File.Delete(path);
        return e;
    }

    private SafeTensorsFormatException AssertBad(string header, int dataBytes, string fragment) =>
        AssertBad(TestFiles.Build(header, new byte[dataBytes]), fragment);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void FileShorterThanEightBytes(int length) => AssertBad(new byte[length], "shorter than the 8-byte header length field");

    [Fact]
    public void HeaderLengthLargerThanTheFile() =>
        AssertBad(TestFiles.Build("{}", lengthOverride: 3), "only 2 bytes follow");

    [Fact]
    public void HeaderLengthOverTheLimit()
    {
        AssertBad(TestFiles.Build("{}", lengthOverride: 100_000_001), "more than the 100000000 allowed");
        AssertBad(TestFiles.Build("{}", lengthOverride: ulong.MaxValue), "more than the 100000000 allowed");
    }

    [Fact]
    public void ZeroHeaderLength() => AssertBad(TestFiles.Build("", lengthOverride: 0), "header is empty");

    [Fact]
    public void InvalidUtf8() => AssertBad(TestFiles.BuildRaw([(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}']), "not valid UTF-8");

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("   ", "header is empty")]
    [InlineData("{\"a\":}", "not valid JSON")]
    [InlineData("{\"a\" 1}", "not valid JSON")]
    [InlineData("{}}", "not valid JSON")]
    [InlineData("{} x", "not valid JSON")]
    [InlineData("{/*c*/}", "not valid JSON")]
    [InlineData("{\"__metadata__\":{},}", "not valid JSON")]
    [InlineData("\0\0\0\0", "not valid JSON")]
    [InlineData("{\"a\\uDC00\":{}}", "not valid JSON")]
    [InlineData("{\"a\\x\":{}}", "not valid JSON")]
    [InlineData("{\"a\":tru}", "not valid JSON")]
    public void InvalidJson(string header, string fragment) => AssertBad(header, 0, fragment);

    [Theory]
    [InlineData("[]", "an array")]
    [InlineData("\"x\"", "a string")]
    [InlineData("3", "a number")]
    [InlineData("null", "null")]
    public void JsonThatIsNotAnObject(string header, string found)
    {
        var e = AssertBad(header, 0, "must be a JSON object");
        Assert.Contains(found, e.Message);
    }

    [Theory]
    [InlineData("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing \"dtype\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing \"shape\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "missing \"data_offsets\"")]
    [InlineData("{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", "\"dtype\" must be a string")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", "\"shape\" must be an array")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", "\"shape\" entries must be non-negative integers")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0}}}", "\"data_offsets\" must be an array")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,null]}}", "\"data_offsets\" entries must be")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "exactly 2 entries")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", "exactly 2 entries")]
    [InlineData("{\"w\":[]}", "must be an object with dtype, shape and data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "duplicate \"dtype\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", "found an array")]
    public void EntryMissingFieldsOrWithWrongJsonTypes(string header, string fragment)
    {
        var e = AssertBad(header, 4, fragment);
        Assert.Contains("tensor \"w\"", e.Message);
    }

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("f32")]
    [InlineData("I8")]
    [InlineData("")]
    public void UnknownDType(string dtype) => AssertBad("{" + Entry("w", dtype, "[1]", 0, 4) + "}", 4, $"unknown dtype \"{dtype}\"");

    [Theory]
    [InlineData("[-1]", "is negative (-1)")]
    [InlineData("[2,-3]", "entry 1 is negative")]
    [InlineData("[1.5]", "is not a non-negative integer")]
    [InlineData("[1e0]", "is not a non-negative integer")]
    [InlineData("[99999999999999999999]", "is not a non-negative integer")]
    [InlineData("[3000000000]", "larger than the supported maximum")]
    public void BadShapeEntries(string shape, string fragment) => AssertBad("{" + Entry("w", "F32", shape, 0, 4) + "}", 4, fragment);

    [Fact]
    public void NegativeOrFractionalOffsets()
    {
        AssertBad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "\"data_offsets\" entry 0 is negative");
        AssertBad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, "\"data_offsets\" entry 1 (4.0) is not");
    }

    [Theory]
    [InlineData("F32", "[2,3]", 0, 20, "needs 6 elements (24 bytes) but data_offsets [0, 20] cover 20 bytes")]
    [InlineData("BF16", "[4]", 0, 4, "needs 4 elements (8 bytes)")]
    [InlineData("F32", "[]", 0, 0, "needs 1 elements (4 bytes)")]
    [InlineData("F32", "[0,5]", 0, 4, "needs 0 elements (0 bytes)")]
    [InlineData("F64", "[2147483647,2147483647,2147483647]", 0, 8, "needs too many elements")]
    public void ShapeThatDoesNotMatchTheByteRange(string dtype, string shape, long begin, long end, string fragment) =>
        AssertBad("{" + Entry("w", dtype, shape, begin, end) + "}", (int)end, fragment);

    [Fact]
    public void BeginGreaterThanEnd() =>
        AssertBad("{" + Entry("w", "U8", "[0]", 4, 0) + "}", 4, "begin 4 is greater than end 0");

    [Fact]
    public void OffsetsPastTheEndOfTheData()
    {
        AssertBad("{" + Entry("w", "F32", "[2]", 0, 8) + "}", 4, "run past the end of the data section (4 bytes)");
        AssertBad("{" + Entry("w", "U8", "[1]", long.MaxValue - 1, long.MaxValue) + "}", 4, "run past the end");
    }

    [Fact]
    public void OverlappingRanges()
    {
        var e = AssertBad("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 4, 12) + "}", 12, "overlaps");
        Assert.Contains("\"b\" [4, 12)", e.Message);
        AssertBad("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 0, 8) + "}", 8, "overlaps");
        // An empty tensor placed inside another tensor's range is an overlap too (as in the reference implementation).
        AssertBad("{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("e", "F32", "[0]", 4, 4) + "}", 8, "overlaps");
    }

    [Fact]
    public void GapsBetweenRangesOrUncoveredBytes()
    {
        AssertBad("{" + Entry("a", "F32", "[1]", 0, 4) + "," + Entry("b", "F32", "[1]", 8, 12) + "}", 12, "gap in the data section: bytes [4, 8)");
        AssertBad("{" + Entry("a", "F32", "[1]", 4, 8) + "}", 8, "bytes [0, 4) before tensor \"a\"");
        AssertBad("{" + Entry("a", "F32", "[1]", 0, 4) + "}", 7, "3 bytes at the end belong to no tensor");
        AssertBad("{}", 1, "1 bytes at the end belong to no tensor");
    }

    [Fact]
    public void DuplicateNames()
    {
        var e = AssertBad("{" + Entry("a", "F32", "[1]", 0, 4) + "," + Entry("a", "F32", "[1]", 4, 8) + "}", 8, "duplicate key \"a\"");
        // Escaped spellings of the same key are the same key.
        AssertBad("{" + Entry("ab", "F32", "[1]", 0, 4) + "," + Entry("a\\u0062", "F32", "[1]", 4, 8) + "}", 8, "duplicate key \"ab\"");
        AssertBad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key \"__metadata__\"");
        Assert.NotNull(e);
    }

    [Theory]
    [InlineData("{\"__metadata__\":[]}", "must be an object of string values, found an array")]
    [InlineData("{\"__metadata__\":\"x\"}", "must be an object of string values, found a string")]
    [InlineData("{\"__metadata__\":null}", "found null")]
    [InlineData("{\"__metadata__\":{\"a\":1}}", "value for \"a\" must be a string, found a number")]
    [InlineData("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", "found an object")]
    [InlineData("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", "duplicate key \"a\" in \"__metadata__\"")]
    public void MetadataThatIsNotAStringMap(string header, string fragment) => AssertBad(header, 0, fragment);

    [Fact]
    public void ExceptionIsAFormatException()
    {
        var e = AssertBad(new byte[3], "shorter");
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void MissingFileIsFileNotFoundWithThePath()
    {
        string path = _dir.File("nope.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void DeeplyNestedJsonIsAFormatError()
    {
        string deep = "{\"w\":{\"x\":" + new string('[', 500) + new string(']', 500) + "}}";
        AssertBad(deep, 0, "not valid JSON");
    }

    [Fact]
    public void WhitespaceAndUnknownFieldsAreAccepted()
    {
        string header = " \n{ \"w\" : { \"data_offsets\" : [ 0 , 4 ] , \"shape\" : [ 1 ] , \"dtype\" : \"I32\", \"x\": 1 } }\t\r\n  ";
        string path = _dir.File("ws.safetensors");
        File.WriteAllBytes(path, TestFiles.Build(header, Encoding.ASCII.GetBytes("\x05\0\0\0")));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { 5 }, f.LoadInt32("w"));
    }
}
