using System.Buffers.Binary;

namespace FlowGuide.Media.Tests;

public class PngTests
{
    [Theory]
    [InlineData("gray1", 1, 8)] [InlineData("gray2", 1, 8)] [InlineData("gray4", 1, 8)] [InlineData("gray8", 1, 8)]
    [InlineData("gray16", 1, 16)] [InlineData("graya8", 2, 8)] [InlineData("graya16", 2, 16)]
    [InlineData("rgb8", 3, 8)] [InlineData("rgb16", 3, 16)] [InlineData("rgba8", 4, 8)] [InlineData("rgba16", 4, 16)]
    [InlineData("pal4", 3, 8)] [InlineData("pal8trns", 4, 8)]
    [InlineData("adam7_rgb8", 3, 8)] [InlineData("adam7_gray2", 1, 8)] [InlineData("adam7_rgba16", 4, 16)] [InlineData("adam7_tiny", 3, 8)]
    public void ReadsFixturesOfEveryColourTypeDepthFilterAndInterlace(string name, int channels, int depth)
    {
        var img = PngReader.Read(TestPaths.Fixture(name + ".png"));
        Assert.Equal(channels, img.Channels);
        Assert.Equal(depth, img.BitDepth);
        var raw = File.ReadAllBytes(TestPaths.Fixture(name + ".raw"));
        if (depth == 16)
        {
            Assert.Equal(raw.Length / 2, img.Samples16!.Length);
            for (int i = 0; i < img.Samples16.Length; i++)
                Assert.Equal(BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(2 * i)), img.Samples16[i]);
        }
        else Assert.Equal(raw, img.Samples8);
    }

    [Theory]
    [InlineData(1, 8)] [InlineData(2, 8)] [InlineData(3, 8)] [InlineData(4, 8)]
    [InlineData(1, 16)] [InlineData(2, 16)] [InlineData(3, 16)] [InlineData(4, 16)]
    public void WriteThenReadIsExact(int channels, int depth)
    {
        using var dir = new TempDir();
        var rng = new Random(channels * 100 + depth);
        int w = 37, h = 23, n = w * h * channels;
        // Half smooth gradient, half noise: exercises every filter choice.
        PngImage img;
        if (depth == 8)
        {
            var s = new byte[n];
            for (int i = 0; i < n; i++) s[i] = (byte)(i < n / 2 ? (i / channels % w) * 7 + i % channels : rng.Next(256));
            img = new PngImage(w, h, channels, s);
        }
        else
        {
            var s = new ushort[n];
            for (int i = 0; i < n; i++) s[i] = (ushort)(i < n / 2 ? (i / channels % w) * 1771 + i % channels : rng.Next(65536));
            img = new PngImage(w, h, channels, s);
        }
        string path = dir.File("x.png");
        PngWriter.Write(path, img);
        var back = PngReader.Read(path);
        Assert.Equal((w, h, channels, depth), (back.Width, back.Height, back.Channels, back.BitDepth));
        if (depth == 8) Assert.Equal(img.Samples8, back.Samples8); else Assert.Equal(img.Samples16, back.Samples16);
        Assert.Equal(new[] { "x.png" }, dir.Entries());
    }

    [Fact]
    public void ReadsRealMmflowFramesAndAgreesWithPpmOfSameKind()
    {
        var img = PngReader.Read(TestPaths.Shared("flow/mmflow/0000000-img_0.png"));
        Assert.Equal((50, 50, 3, 8), (img.Width, img.Height, img.Channels, img.BitDepth));
        var rgb = img.ToRgb8();
        Assert.Equal(50 * 50 * 3, rgb.Length);
        Assert.True(rgb.Distinct().Count() > 20, "a real image has many distinct values");
        var occ = PngReader.Read(TestPaths.Shared("flow/mmflow/0000000-occ_01.png"));
        Assert.Equal((50, 50), (occ.Width, occ.Height));
    }

    [Fact]
    public void ToRgb8ExpandsGrayAndRounds16Bit()
    {
        var img = new PngImage(2, 1, 1, new ushort[] { 65535, 257 * 100 + 128 });
        Assert.Equal(new byte[] { 255, 255, 255, 100, 100, 100 }, img.ToRgb8());
        Assert.Equal(257 * 100 + 128, img[1, 0, 0]);
    }

    [Fact]
    public void Crc32MatchesKnownValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8)); // the standard CRC-32 check value

    [Fact]
    public void BadInputsGiveMediaExceptionsThatNameTheFile()
    {
        using var dir = new TempDir();
        var good = PngWriter.Encode(PngImage.FromRgb8(8, 8, Enumerable.Range(0, 192).Select(i => (byte)i).ToArray()));

        string Err(byte[] bytes, string name)
        {
            string p = dir.File(name);
            File.WriteAllBytes(p, bytes);
            var e = Assert.Throws<MediaException>(() => PngReader.Read(p));
            Assert.Contains(name, e.Message);
            return e.Message;
        }
        Assert.Contains("truncated", Err(good[..(good.Length - 20)], "trunc.png"));
        Assert.Contains("truncated", Err(good[..30], "trunc2.png"));
        var badCrc = (byte[])good.Clone();
        badCrc[45] ^= 0x55; // inside the IDAT body (the IDAT chunk starts at byte 33)
        Assert.Contains("CRC", Err(badCrc, "crc.png"));
        var magic = (byte[])good.Clone();
        magic[1] = (byte)'X';
        Assert.Contains("signature", Err(magic, "magic.png"));
        Assert.Contains("not found", Assert.Throws<MediaException>(() => PngReader.Read(dir.File("missing.png"))).Message);
    }

    [Fact]
    public void UnwritableOutputGivesMediaExceptionAndLeavesNothing()
    {
        using var dir = new TempDir();
        var img = PngImage.FromRgb8(2, 2, new byte[12]);
        var e = Assert.Throws<MediaException>(() => PngWriter.Write(dir.File("no/such/dir/x.png"), img));
        Assert.Contains("does not exist", e.Message);
        File.WriteAllText(dir.File("afile"), "x");
        e = Assert.Throws<MediaException>(() => PngWriter.Write(dir.File("afile/x.png"), img));
        Assert.Contains("not a directory", e.Message);
        Assert.Equal(new[] { "afile" }, dir.Entries());
    }
}
