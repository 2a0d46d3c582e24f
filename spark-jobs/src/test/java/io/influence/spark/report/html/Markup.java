package io.influence.spark.report.html;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict scanner for the markup the report emits (test side, independent of the renderer):
 * splits a document into tags with their attributes, and fails on anything it does not
 * understand — a raw {@code <} or {@code >} in text, an unquoted attribute, a comment.
 */
final class Markup {

  record Tag(String name, boolean closing, Map<String, String> attributes) {}

  private Markup() {}

  static List<Tag> tags(String html) {
    List<Tag> tags = new ArrayList<>();
    int i = 0;
    int n = html.length();
    String doctype = "<!DOCTYPE html>";
    if (!html.startsWith(doctype)) {
      throw new AssertionError("document does not start with " + doctype);
    }
    i = doctype.length();
    while (i < n) {
      char c = html.charAt(i);
      if (c == '>') {
        throw new AssertionError("raw '>' in text at " + i + ": " + around(html, i));
      }
      if (c != '<') {
        i++;
        continue;
      }
      int j = i + 1;
      boolean closing = j < n && html.charAt(j) == '/';
      if (closing) {
        j++;
      }
      int nameStart = j;
      while (j < n && (Character.isLetterOrDigit(html.charAt(j)) || html.charAt(j) == '-')) {
        j++;
      }
      if (j == nameStart || !Character.isLetter(html.charAt(nameStart))) {
        throw new AssertionError("'<' that starts no tag at " + i + ": " + around(html, i));
      }
      String name = html.substring(nameStart, j);
      Map<String, String> attributes = new LinkedHashMap<>();
      while (true) {
        while (j < n && Character.isWhitespace(html.charAt(j))) {
          j++;
        }
        if (j >= n) {
          throw new AssertionError("unterminated tag at " + i);
        }
        if (html.startsWith("/>", j)) {
          j += 2;
          break;
        }
        if (html.charAt(j) == '>') {
          j++;
          break;
        }
        int attrStart = j;
        while (j < n && "=> \t\n/\"'<".indexOf(html.charAt(j)) < 0) {
          j++;
        }
        String attr = html.substring(attrStart, j);
        if (attr.isEmpty()) {
          throw new AssertionError("bad attribute in tag at " + i + ": " + around(html, j));
        }
        String value = "";
        if (j < n && html.charAt(j) == '=') {
          if (html.charAt(j + 1) != '"') {
            throw new AssertionError("unquoted attribute value at " + j + ": " + around(html, j));
          }
          int end = html.indexOf('"', j + 2);
          value = html.substring(j + 2, end);
          if (value.indexOf('<') >= 0 || value.indexOf('>') >= 0) {
            throw new AssertionError("raw '<' or '>' in attribute at " + j + ": " + around(html, j));
          }
          j = end + 1;
        }
        if (attributes.put(attr, value) != null) {
          throw new AssertionError("duplicate attribute " + attr + " at " + i);
        }
      }
      tags.add(new Tag(name, closing, attributes));
      i = j;
      if (!closing && (name.equals("style") || name.equals("script"))) {
        int end = html.indexOf("</" + name + ">", i);
        i = end; // raw text element: skip its content
      }
    }
    return tags;
  }

  private static String around(String s, int i) {
    return s.substring(Math.max(0, i - 40), Math.min(s.length(), i + 40)).replace("\n", "\\n");
  }
}
