using DeepSeekV3.Inference;

namespace DeepSeekV3.Tests.Inference;

public class StopStringMatcherTests
{
    [Fact]
    public void Text_that_may_start_a_stop_string_is_held_back_until_it_cannot()
    {
        var m = new StopStringMatcher(["END"]);
        Assert.Equal("hello ", m.Push("hello E"));   // "E" might begin "END"
        Assert.Equal("Ex", m.Push("x"));              // "Ex" cannot: released
        Assert.Equal("", m.Push("EN"));
        Assert.Equal("", m.Push("D and more"));       // match: nothing after it, stop string dropped
        Assert.True(m.Stopped);
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void Stop_string_spanning_pieces_cuts_the_text_before_it()
    {
        var m = new StopStringMatcher(["\n\n", "###"]);
        string shown = m.Push("line one\n") + m.Push("\nline two");
        Assert.Equal("line one", shown);
        Assert.True(m.Stopped);
    }

    [Fact]
    public void Without_a_match_everything_comes_out_by_the_flush()
    {
        var m = new StopStringMatcher(["stop"]);
        string shown = m.Push("a st") + m.Push("o") + m.Flush();
        Assert.Equal("a sto", shown);
        Assert.False(m.Stopped);
    }

    [Fact]
    public void Multibyte_characters_and_no_stop_strings_pass_straight_through()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal("秦川雄帝宅😀", m.Push("秦川雄帝宅😀"));
    }
}
