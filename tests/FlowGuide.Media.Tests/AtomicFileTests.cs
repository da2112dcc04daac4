namespace FlowGuide.Media.Tests;

public class AtomicFileTests
{
    [Fact]
    public void AFailedWriteLeavesNoTempFileAndKeepsTheOldTarget()
    {
        using var dir = new TempDir();
        string p = dir.File("v.gif");
        File.WriteAllText(p, "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(p, s =>
        {
            s.Write(new byte[1000]);
            throw new InvalidOperationException("encoder failed half way");
        }));
        Assert.Equal("old", File.ReadAllText(p));
        Assert.Equal(new[] { "v.gif" }, dir.Entries());
    }

    [Fact]
    public void IoErrorsBecomeMediaExceptionsNamingTheTarget()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        var e = Assert.Throws<MediaException>(() => AtomicFile.Write(dir.File("sub"), s => s.WriteByte(1), "PNG"));
        Assert.Contains("a directory of that name exists", e.Message);
        e = Assert.Throws<MediaException>(() => AtomicFile.Write(dir.File("x.png"), _ => throw new IOException("disk full"), "PNG"));
        Assert.Contains("x.png", e.Message);
        Assert.Contains("disk full", e.Message);
        Assert.Equal(new[] { "sub" }, dir.Entries());
    }
}
