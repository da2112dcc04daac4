namespace FlowGuide.Media.Tests;

public class PnmTests
{
    [Fact]
    public void ReadsRealFlyingChairsPpm()
    {
        var img = Pnm.Read(TestPaths.Shared("flow/mmflow/00001_img1.ppm"));
        Assert.Equal((50, 50, 3, 8), (img.Width, img.Height, img.Channels, img.BitDepth));
        Assert.True(img.Samples8!.Distinct().Count() > 20);
        var viaImageIO = ImageIO.Read(TestPaths.Shared("flow/mmflow/00001_img2.ppm"));
        Assert.Equal((50, 50), (viaImageIO.Width, viaImageIO.Height));
    }

    [Theory]
    [InlineData(1, 8)] [InlineData(3, 8)] [InlineData(1, 16)] [InlineData(3, 16)]
    public void WriteThenReadIsExact(int channels, int depth)
    {
        using var dir = new TempDir();
        var rng = new Random(5);
        int n = 7 * 5 * channels;
        var img = depth == 8
            ? new PngImage(7, 5, channels, Enumerable.Range(0, n).Select(_ => (byte)rng.Next(256)).ToArray())
            : new PngImage(7, 5, channels, Enumerable.Range(0, n).Select(_ => (ushort)rng.Next(65536)).ToArray());
        string p = dir.File(channels == 3 ? "x.ppm" : "x.pgm");
        Pnm.Write(p, img);
        var back = Pnm.Read(p);
        Assert.Equal((7, 5, channels, depth), (back.Width, back.Height, back.Channels, back.BitDepth));
        if (depth == 8) Assert.Equal(img.Samples8, back.Samples8); else Assert.Equal(img.Samples16, back.Samples16);
    }

    [Fact]
    public void ParsesCommentsAndRescalesOddMaxval()
    {
        var data = System.Text.Encoding.ASCII.GetBytes("P5\n# a comment\n2 1 # more\n15\n").Concat(new byte[] { 15, 5 }).ToArray();
        var img = Pnm.Decode(data);
        Assert.Equal(new byte[] { 255, 85 }, img.Samples8);
    }

    [Fact]
    public void BadInputsAreClear()
    {
        Assert.Contains("wrong magic", Assert.Throws<MediaException>(() => Pnm.Decode("XX"u8.ToArray(), "a.ppm")).Message);
        Assert.Contains("not supported", Assert.Throws<MediaException>(() => Pnm.Decode("P3\n1 1\n255\n0 0 0"u8.ToArray(), "a.ppm")).Message);
        var e = Assert.Throws<MediaException>(() => Pnm.Decode("P6\n4 4\n255\n\0\0\0"u8.ToArray(), "t.ppm"));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("t.ppm", e.Message);
    }
}
