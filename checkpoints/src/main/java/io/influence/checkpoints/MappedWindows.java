package io.influence.checkpoints;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Read-only memory maps over the data area of a safetensors file, handing each tensor's bytes to a
 * consumer as little-endian buffers.
 *
 * <p>Maps are at most {@code 2·halfWindow} bytes (files may exceed 2 GiB): window {@code i} covers
 * data bytes {@code [i·H, i·H + 2H)} with {@code H = halfWindow}, is mapped on first use and kept,
 * so every span of at most {@code H} bytes is a slice of one window. Longer spans are mapped
 * piecewise in maps of {@code chunk} bytes that are not kept. Window creation is synchronised;
 * closing while reading is not.
 */
final class MappedWindows {

    /** Receives one little-endian piece of a tensor's bytes, in order. */
    interface Consumer {
        void accept(ByteBuffer littleEndianWindow);
    }

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final long dataSize;
    private final long halfWindow;
    private final int chunk;
    private final MappedByteBuffer[] windows;

    MappedWindows(Path file, FileChannel channel, long dataStart, long dataSize, long halfWindow, int chunk) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataSize = dataSize;
        this.halfWindow = halfWindow;
        this.chunk = chunk;
        this.windows = new MappedByteBuffer[(int) ((dataSize + halfWindow - 1) / halfWindow)];
    }

    /** Passes the bytes of {@code t} to {@code consumer}, in order, in one piece or several. */
    void forEach(TensorInfo t, Consumer consumer) throws CheckpointFormatException {
        if (!channel.isOpen()) {
            throw new IllegalStateException(file + ": the safetensors file is closed.");
        }
        long length = t.byteLength();
        if (length == 0) {
            return;
        }
        try {
            if (length <= halfWindow) {
                // fast path: a slice of a cached window; window i covers data bytes [i*H, i*H + 2H), so it
                // holds every tensor of at most H bytes that starts in [i*H, (i+1)*H)
                int i = (int) (t.begin() / halfWindow);
                ByteBuffer w = window(i);
                consumer.accept(w.slice((int) (t.begin() - i * halfWindow), (int) length).order(ByteOrder.LITTLE_ENDIAN));
                return;
            }
            long pos = dataStart + t.begin();
            long end = dataStart + t.end();
            while (pos < end) {
                int len = (int) Math.min(chunk, end - pos);
                MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, pos, len);
                consumer.accept(map.order(ByteOrder.LITTLE_ENDIAN));
                pos += len;
            }
        } catch (IOException e) {
            throw new CheckpointFormatException(file, t.name(), "cannot be read: " + e + ".", "check the file and the disk.", e);
        }
    }

    private synchronized ByteBuffer window(int i) throws IOException {
        if (windows[i] == null) {
            long from = i * halfWindow;
            long len = Math.min(2 * halfWindow, dataSize - from);
            windows[i] = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + from, len);
        }
        return windows[i];
    }
}
