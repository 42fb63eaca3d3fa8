namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// The one timing hook of a fused pass: <see cref="Lap"/> charges the time since the previous lap to a
/// <see cref="DecodeStage"/> of the pass's <see cref="DecodeProfile"/>. Without a profile it reads no clock.
/// </summary>
internal struct StageClock
{
    private readonly DecodeProfile? _profile;
    private long _since;

    public StageClock(DecodeProfile? profile)
    {
        _profile = profile;
        _since = profile is null ? 0 : DecodeProfile.Now;
    }

    /// <summary>Charges the time since the last lap to <paramref name="stage"/>.</summary>
    public void Lap(DecodeStage stage)
    {
        if (_profile is null) return;
        long now = DecodeProfile.Now;
        _profile.Add(stage, now - _since);
        _since = now;
    }

    /// <summary>Starts the next lap now, charging nothing (the time in between was charged by another clock).</summary>
    public void Restart()
    {
        if (_profile is not null) _since = DecodeProfile.Now;
    }
}
