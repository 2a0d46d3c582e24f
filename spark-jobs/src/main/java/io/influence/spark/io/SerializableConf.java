package io.influence.spark.io;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;

/**
 * A Hadoop {@link Configuration} that travels with a task: captured on the driver (its session's
 * {@code hadoopConfiguration()}), written with {@link Configuration#write}, rebuilt on the executor, so that files
 * the task opens itself (factor folders, Arrow data files) see the same file system settings as Spark's own reads.
 */
public final class SerializableConf implements Serializable {

  private static final long serialVersionUID = 1L;

  private transient Configuration conf;

  public SerializableConf(Configuration conf) {
    this.conf = new Configuration(conf);
  }

  public Configuration get() {
    return conf;
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    conf.write(out);
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    conf = new Configuration(false);
    conf.readFields(in);
  }
}
